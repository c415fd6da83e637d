#pragma once
// ImagesPanel: the images tab: the selected VM's disk images plus images added by hand (Add… or
// drag and drop), their properties and details, and Create…, Resize… (grow only, not while the
// VM uses it), Convert… and Check/Repair run as jobs with progress and cancel; the outcome of
// the last action shows under the buttons. Images added by hand belong to the VM they were
// added for. The rows and details follow the images (sizes, bitmaps, users) once a second.
#include <QStringList>
#include <QTimer>
#include <QWidget>

#include <map>

class QLabel;
class QPlainTextEdit;
class QPushButton;
class QTableView;

namespace e2kvm::ui {

struct AppContext;
class ImageTableModel;
struct CreateImageRequest;

class ImagesPanel : public QWidget {
    Q_OBJECT
public:
    explicit ImagesPanel(AppContext& context, QWidget* parent = nullptr);

    ImageTableModel* model() const { return model_; }
    // The file of the selected row, empty if none.
    QString currentFile() const;
    void selectFile(const QString& file);
    QString detailsText() const;
    // The outcome of the last action (create, resize, convert, check, repair), as shown.
    QString resultText() const;

    // The actions without their dialogs (the buttons ask, then call these).
    void addImage(const QString& file);
    void createImage(const CreateImageRequest& request);
    // Returns false (after reporting why) when refused.
    bool resizeCurrent(uint64_t newSize);
    void convertCurrent(const QString& target, const QString& format);
    void checkCurrent(bool repair);
    // Removes a hand-added image from the list (the file stays); Remove asks first.
    bool removeImage(const QString& file);

public slots:
    void setImages(const QStringList& files);
    void setVmRunning(bool running);
    // The VM whose images are shown next (images added by hand are kept per VM); the main
    // window calls it before setImages.
    void setVm(const QString& name);
    // Re-reads the rows and the details (also done on a timer).
    void refresh();

signals:
    void currentFileChanged(const QString& file);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void updateActions();
    void updateDetails();
    int currentRow() const;
    void chooseAdd();
    void chooseCreate();
    void chooseResize();
    void chooseConvert();
    void removeCurrent();
    void showResult(const QString& text, bool error);
    // Whether a running VM (or an export) has the row's image open: resize is refused then.
    bool rowInUse(int row) const;

    AppContext& context_;
    ImageTableModel* model_;
    QTableView* table_;
    QPlainTextEdit* details_;
    QPushButton* add_;
    QPushButton* remove_;
    QPushButton* create_;
    QPushButton* resize_;
    QPushButton* convert_;
    QPushButton* check_;
    QPushButton* repair_;
    QLabel* result_;
    bool vmRunning_ = false;
    QString vmName_;
    QString vmFolder_; // where the VM's first disk is: relative names in Create go there
    std::map<QString, QStringList> handAdded_; // by VM name
    QTimer refresh_;
};

} // namespace e2kvm::ui
