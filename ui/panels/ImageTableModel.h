#pragma once
// ImageTableModel: the images a panel shows (the VM's disks plus images added by hand), one row
// each with format, sizes, cluster size, backing chain and bitmap count, read from the open
// node in the BlockNodeTable; a file that failed to open keeps its row with the error.
// Looking is read-only: a file the table does not have open is looked at through a read-only
// open outside the table (a writable open would change it: bitmaps marked in use, a dirty
// qcow2 repaired); a change the user asks for opens it for writing (openForChange).
#include <QAbstractTableModel>
#include <QStringList>

#include <memory>
#include <vector>

namespace e2kvm::vm {
class BlockNodeTable;
struct BlockNode;
} // namespace e2kvm::vm

namespace e2kvm::ui {

struct ImageRow {
    QString file;
    bool fromVm = false; // one of the selected VM's disks (not removable by hand)
    std::shared_ptr<vm::BlockNode> node;
    bool lookedAt = false; // `node` is a read-only look outside the node table (no name)
    QString error;         // why it could not be opened
};

class ImageTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        FileColumn,
        FormatColumn,
        VirtualSizeColumn,
        AllocatedColumn,
        ClusterColumn,
        BackingColumn,
        BitmapsColumn,
        ColumnCount
    };

    explicit ImageTableModel(vm::BlockNodeTable* nodes, QObject* parent = nullptr);

    // Replaces the VM's images (hand-added ones stay). Each is shown through its node in the
    // table if open there, else looked at read-only.
    void setVmImages(const QStringList& files);
    // Adds an image by hand; returns its row (the existing one if already listed).
    int addImage(const QString& file);
    // Removes a hand-added row (VM rows stay); returns false for a VM row.
    bool removeRow(int row);
    // Opens the row's file again (after a failure, a repair or a resize).
    void reopen(int row);
    // For a change the user asked for: the row's node, opened for writing in the node table if
    // it was only looked at. Throws with the reason it cannot be.
    std::shared_ptr<vm::BlockNode> openForChange(int row);
    // Drops the row's node (the file is closed once nobody else holds it); `why` is shown.
    void closeRow(int row, const QString& why);
    // Re-reads sizes and bitmap counts of every row (a row only looked at switches to the
    // table's node once the file is open there, e.g. by the VM).
    void refresh();

    int findFile(const QString& file) const;
    const ImageRow& row(int r) const { return rows_[size_t(r)]; }
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QStringList mimeTypes() const override;
    bool canDropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                         const QModelIndex& parent) const override;
    bool dropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                      const QModelIndex& parent) override;
    Qt::DropActions supportedDropActions() const override;

    // "a.qcow2 → base.qcow2 → base.raw": the chain below an image.
    static QString backingChainText(const ImageRow& row);
    // "1 GiB", "64 KiB".
    static QString sizeText(uint64_t bytes);

private:
    void open(ImageRow& row);

    vm::BlockNodeTable* nodes_;
    std::vector<ImageRow> rows_;
};

} // namespace e2kvm::ui
