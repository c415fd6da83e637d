#pragma once
// BitmapsPanel: the bitmaps tab: the dirty bitmaps of the chosen image with Add, Remove,
// Clear, Enable/Disable, Merge… and New checkpoint (the atomic rotation), guidance for
// inconsistent bitmaps, and the visual map of the selected bitmap, updated live.
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
enum class BitmapActionKind;
} // namespace e2kvm::block
namespace e2kvm::vm {
struct BlockNode;
}

namespace e2kvm::ui {

struct AppContext;
class BitmapMapWidget;
class BitmapTableModel;

class BitmapsPanel : public QWidget {
    Q_OBJECT
public:
    explicit BitmapsPanel(AppContext& context, QWidget* parent = nullptr);

    BitmapTableModel* model() const { return model_; }
    BitmapMapWidget* mapWidget() const { return map_; }
    // Shows the bitmaps of this image (opened through the node table if needed).
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

public slots:
    void setImages(const QStringList& files);
    void setVmRunning(bool running);
    // Re-reads the image list and the bitmaps (also done on a timer).
    void refresh();

private:
    // The node of the current image; opens it only when asked (a user action), never from the
    // refresh timer.
    std::shared_ptr<vm::BlockNode> currentNode(bool openIfClosed);
    block::BitmapCatalog* currentCatalog(std::shared_ptr<vm::BlockNode>& holder,
                                         bool openIfClosed = false);
    void refreshImageList();
    void refreshBitmaps();
    void updateSelection();
    void chooseAdd();
    void chooseMerge();
    void chooseCheckpoint();
    void logChange(const QString& what);

    AppContext& context_;
    QStringList vmImages_;
    bool vmRunning_ = false;
    std::weak_ptr<vm::BlockNode> node_;
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
