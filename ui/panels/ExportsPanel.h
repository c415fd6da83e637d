#pragma once
// ExportsPanel: the exports tab: one-click NBD export of an image (starts the server on
// 127.0.0.1:10809 or a free port, read-only by default, chosen consistent bitmaps, optional TLS),
// the list of exports with their nbd:// URI, the exact commands that list what changed, the
// connected clients, and Stop. A disk of the running (or paused) VM is exported as a point in
// time by default: its data and bitmaps as they were at the click, while the guest runs on
// (vm::PointInTimeExports); stopping such an export releases its temporary image. The server
// this panel started stops listening when its last export stops.
#include <QStringList>
#include <QTimer>
#include <QWidget>

#include <string>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QTableWidget;

namespace e2kvm::ui {

struct AppContext;
struct ExportEndpoint;

struct ExportChoice {
    QString file;
    bool writable = false;
    QStringList bitmaps;
    QString tlsDir; // empty: no TLS
    // Export the disk as it is now, read-only, while the VM keeps writing it (a disk of the
    // running VM only; ignored otherwise).
    bool pointInTime = false;
    QString exportName; // empty: from the file name (made unique)
};

class ExportsPanel : public QWidget {
    Q_OBJECT
public:
    static constexpr uint16_t kDefaultPort = 10809;

    explicit ExportsPanel(AppContext& context, QWidget* parent = nullptr);
    ~ExportsPanel() override;

    // Exports without asking (the Export button asks about writable exports of a running VM
    // first). Returns the export name, or empty after reporting the error.
    QString exportImage(const ExportChoice& choice);
    bool stopExport(const QString& exportName);
    QString uriFor(const QString& exportName) const;
    // The commands that list what changed, for one export.
    QString commandsFor(const QString& exportName) const;
    int exportRows() const;
    QString clientsText() const;

    // The image chosen in the combo box and the bitmaps that can be ticked for it.
    void setCurrentImage(const QString& file);
    QStringList offeredBitmaps() const;
    // What the form says now: the Export button exports this (frozen bitmaps start ticked).
    ExportChoice currentChoice() const;
    // Whether the chosen image is a disk of the running (or paused) VM, so that the form offers
    // (and ticks) "Point in time".
    bool pointInTimeOffered() const;
    // What the panel says about the selected export (its point in time), or empty.
    QString selectedExportNote() const;

public slots:
    void setImages(const QStringList& files);
    void setVmRunning(bool running);
    void refresh();

private:
    void ensureServer(const QString& tlsDir);
    void stopIdleServer();
    ExportEndpoint endpointFor(const std::string& exportName) const;
    void refreshImageList();
    // Lists the bitmaps of the chosen image. An image that is not open is looked at only for a
    // user's choice, never from the refresh timer (a repair may have closed it on purpose), and
    // read-only, outside the node table: looking changes nothing (no repair of a dirty qcow2).
    void refreshBitmapChoices(bool openIfClosed = false);
    // Refills the bitmap list when the chosen image's open node changed its bitmaps.
    void refreshBitmapsIfChanged();
    void refreshExports();
    void updateCommands();
    QString selectedExport() const;
    void chooseExport();
    bool isVmDisk(const QString& file) const;
    // Enables "Point in time" for a running VM's disk (ticked whenever it becomes available)
    // and "Writable" unless a point in time is chosen.
    void updateForm();
    // "Point in time taken at HH:MM:SS …" for a point-in-time export, else empty.
    QString pointInTimeNote(const QString& exportName, bool withFile) const;

    AppContext& context_;
    QStringList vmImages_;
    bool vmRunning_ = false;
    QString serverTlsDir_;  // TLS directory of the server we started
    QString inspectedFile_; // the chosen image that is not open, as looked at read-only
    // What the bitmap list shows when it was filled from an open node: that image and its
    // catalog's generation (a change in the Bitmaps tab or over QMP refills the list).
    const void* listedImage_ = nullptr;
    uint64_t listedGeneration_ = 0;
    bool ticksTouched_ = false; // the user changed the ticks of the listed bitmaps
    bool fillingBitmaps_ = false;
    QComboBox* images_;
    QCheckBox* writable_;
    QCheckBox* pointInTime_;
    bool pointInTimeWasOffered_ = false;
    bool bitmapsForPointInTime_ = false; // the bitmap list was filled for a point in time
    QCheckBox* tls_;
    QLineEdit* tlsDir_;
    QLineEdit* exportName_;
    bool serverStartedHere_ = false;
    QListWidget* bitmaps_;
    QPushButton* export_;
    QLabel* server_;
    QTableWidget* table_;
    QLabel* note_;
    QPlainTextEdit* commands_;
    QPushButton* copyUri_;
    QPushButton* copyCommands_;
    QPushButton* stop_;
    QTimer refresh_;
};

} // namespace e2kvm::ui
