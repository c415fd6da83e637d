#pragma once
// MainWindow: the e2kvm desktop window: the VM library on the left; Console, Details, Images,
// Bitmaps, Exports, Backups and Log tabs for the selected VM on the right; VM, View and Help
// menus, a toolbar with icons and a status bar with run state, disk write rate and NBD client
// count.
#include "ui/AppContext.h"
#include "ui/library/GuestFiles.h"

#include <QMainWindow>
#include <QPointer>
#include <QStyle>

#include <map>
#include <memory>

class QAction;
class QLabel;
class QListView;
class QTabWidget;

namespace e2kvm::ui {

class JobProgress;

class ConsoleWidget;
class DetailsPage;
class VmLibrary;
class VmSession;
struct VmDefinition;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // `library` and `context` outlive the window. `dataDir` is where new disks go by default.
    MainWindow(AppContext& context, VmLibrary& library, GuestFiles guest, QString dataDir,
               QWidget* parent = nullptr);
    ~MainWindow() override;

    bool selectVm(const QString& name);
    QString selectedVmName() const;
    VmSession* selectedSession() const; // null if the selected VM is not running
    // Starts the selected VM; false (and a logged message) on failure.
    bool runSelected();
    // Clones the selected VM as `name`: copying its disks (a job, returned; the clone joins
    // the library when it succeeds) or sharing them read-only (at once; returns null). Refused
    // (null, a logged warning) while the VM runs or is paused: the copy would not be a point in
    // time.
    JobProgress* cloneSelected(const QString& name, bool copyDisks);
    QAction* cloneAction() const { return cloneAct_; }
    QAction* aboutAction() const { return aboutAct_; }
    QAction* documentationAction() const { return documentationAct_; }

    ConsoleWidget* console() const { return console_; }
    // The tab page with this title ("Console", "Bitmaps", ...), or null.
    QWidget* tabPage(const QString& title) const;
    void showTab(const QString& title);
    QString dataDirectory() const { return dataDir_; }

    // Writes a message to the log tab (and the status bar for warnings and errors).
    void log(const QString& level, const QString& text);

signals:
    // The running VM behind the selection changed (null: none); QMP follows it.
    void selectedSessionChanged(e2kvm::ui::VmSession* session);

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    QIcon actionIcon(const char* themeName, QStyle::StandardPixmap fallback) const;
    void buildActions();
    void buildMenus();
    void onSelectionChanged();
    void updateActions();
    void onSessionState(const QString& name, const QString& state);
    void refreshStatus(); // once a second: thumbnails, disk activity, NBD clients

    void newVm();
    void cloneVm();
    QString cloneRefusedText() const; // why Clone is disabled while the VM runs
    // Adds a finished clone to the library and selects it (files it copied are removed if the
    // library refuses it).
    void addClone(const QString& sourceName, const VmDefinition& clone,
                  const QStringList& createdFiles);
    void removeFiles(const QStringList& files);
    void deleteVm();
    void pauseVm();
    void resetVm();
    void shutDownVm(bool force);
    void screenshot();
    void sendKeys(std::vector<uint16_t> codes);
    void applyDetails(const VmDefinition& def);
    void setFullScreen(bool on);

    AppContext& ctx_;
    VmLibrary& library_;
    GuestFiles guest_;
    QString dataDir_;
    std::map<QString, VmSession*> sessions_; // by VM name, owned (QObject children)
    QPointer<VmSession> attached_;           // the session shown in the console

    QListView* list_ = nullptr;
    QTabWidget* tabs_ = nullptr;
    ConsoleWidget* console_ = nullptr;
    DetailsPage* details_ = nullptr;
    QList<QWidget*> imagePanels_; // Images, Bitmaps, Exports (when built)
    int panelsRunning_ = -1;      // what the panels were last told (-1: nothing yet)

    QLabel* stateLabel_ = nullptr;
    QLabel* diskLabel_ = nullptr;
    QLabel* nbdLabel_ = nullptr;
    QLabel* grabLabel_ = nullptr;
    std::map<QString, uint64_t> lastWritten_;

    QAction* newAct_ = nullptr;
    QAction* cloneAct_ = nullptr;
    QAction* deleteAct_ = nullptr;
    QAction* runAct_ = nullptr;
    QAction* pauseAct_ = nullptr;
    QAction* resetAct_ = nullptr;
    QAction* shutDownAct_ = nullptr;
    QAction* forceOffAct_ = nullptr;
    QAction* screenshotAct_ = nullptr;
    QList<QAction*> sendKeyActs_;
    QAction* fitAct_ = nullptr;
    QAction* integerAct_ = nullptr;
    QAction* oneToOneAct_ = nullptr;
    QAction* fullScreenAct_ = nullptr;
    QAction* grabAct_ = nullptr;
    QAction* documentationAct_ = nullptr;
    QAction* aboutAct_ = nullptr;
};

} // namespace e2kvm::ui
