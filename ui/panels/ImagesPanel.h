#pragma once
// ImagesPanel: the images tab: the selected VM's disk images plus images added by hand (Add… or
// drag and drop), their properties and details, and Create…, Resize… (grow only, not while the
// VM runs), Convert… and Check/Repair run as jobs with progress and cancel.
#include <QStringList>
#include <QWidget>

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

    // The actions without their dialogs (the buttons ask, then call these).
    void addImage(const QString& file);
    void createImage(const CreateImageRequest& request);
    // Returns false (after reporting why) when refused.
    bool resizeCurrent(uint64_t newSize);
    void convertCurrent(const QString& target, const QString& format);
    void checkCurrent(bool repair);

public slots:
    void setImages(const QStringList& files);
    void setVmRunning(bool running);

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
    bool vmRunning_ = false;
};

} // namespace e2kvm::ui
