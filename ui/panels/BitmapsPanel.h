#pragma once
// BitmapsPanel: the bitmaps tab: the dirty bitmaps of the chosen image with Add, Remove,
// Clear, Enable/Disable, Merge… and New checkpoint (the atomic rotation), guidance for
// inconsistent bitmaps, and the visual map of the selected bitmap, updated live.
// Looking is read-only: an image no one has open is looked at through a read-only open outside
// the node table (a writable open would change the file: mark its bitmaps in use, repair a
// dirty qcow2). Only a change the user asks for opens it for writing, in the node table; an
// image that is open there (a running VM's disk) is always shown through that live node.
#include <QStringList>
#include <QTimer>
#include <QWidget>

#include <memory>
#include <string>

class QComboBox;
class QLabel;
class QPushButton;
class QTableView;

namespace e2kvm::block {
class BitmapCatalog;
class BlockDriver;
enum class BitmapActionKind;
} // namespace e2kvm::block
namespace e2kvm::vm {
struct BlockNode;
}

namespace e2kvm::ui {

struct AppContext;
class BitmapMapWidget;
class BitmapNameDialog;
class BitmapTableModel;

class BitmapsPanel : public QWidget {
    Q_OBJECT
public:
    explicit BitmapsPanel(AppContext& context, QWidget* parent = nullptr);

    BitmapTableModel* model() const { return model_; }
    BitmapMapWidget* mapWidget() const { return map_; }
    // Shows the bitmaps of this image: its node in the node table if it is open there, else
    // the image opened read-only outside the table.
    void setCurrentImage(const QString& file);
    QString currentImage() const;
    void selectBitmap(const QString& name);
    QString selectedBitmap() const;
    QString guidanceText() const;

    // The actions without their dialogs; false after reporting the error.
    bool addBitmap(const QString& name, uint64_t granularity = 0);
    bool changeBitmap(block::BitmapActionKind kind, const QString& name);
    bool mergeBitmap(const QString& target, const QString& source);
    bool newCheckpoint(const QString& name, uint64_t granularity = 0);
    // Opens the form of Add… (or New checkpoint…): name and granularity in one window-modal
    // dialog that refuses an empty or taken name before it closes.
    BitmapNameDialog* openBitmapForm(bool checkpoint);

public slots:
    void setImages(const QStringList& files);
    void setVmRunning(bool running);
    // Re-reads the image list and the bitmaps (also done on a timer).
    void refresh();

private:
    // The image whose bitmaps are shown: the node table's (live) if the current image is open
    // there, else the read-only look at it. `lookIfClosed` opens that look (choosing an image);
    // the refresh timer never opens anything (a repair may have closed the image).
    std::shared_ptr<block::BlockDriver> shownImage(bool lookIfClosed);
    block::BitmapCatalog* shownCatalog(std::shared_ptr<block::BlockDriver>& holder,
                                       bool lookIfClosed = false);
    // For a change the user asked for: the current image's node, opened for writing in the node
    // table if it is not open yet. Throws with the reason it cannot be opened.
    std::shared_ptr<vm::BlockNode> nodeForChange();
    block::BitmapCatalog& catalogForChange(std::shared_ptr<vm::BlockNode>& holder);
    // Forgets what is shown so that the next refresh redraws it all.
    void showNothingYet();
    void refreshImageList();
    void refreshBitmaps();
    void updateSelection();
    void chooseAdd();
    void chooseMerge();
    void chooseCheckpoint();
    void logChange(const QString& what);
    QStringList bitmapNames() const;

    AppContext& context_;
    QStringList vmImages_;
    bool vmRunning_ = false;
    std::weak_ptr<vm::BlockNode> node_;             // the shown node of the table, if any
    std::shared_ptr<block::BlockDriver> inspected_; // else the read-only look at the image
    QString nodeFile_;
    uint64_t lastGeneration_ = ~uint64_t{0};
    QComboBox* images_;
    BitmapTableModel* model_;
    QTableView* table_;
    QLabel* guidance_;
    BitmapMapWidget* map_;
    QPushButton* add_;
    QPushButton* remove_;
    QPushButton* clear_;
    QPushButton* enable_;
    QPushButton* disable_;
    QPushButton* merge_;
    QPushButton* checkpoint_;
    QTimer refresh_;
};

} // namespace e2kvm::ui
