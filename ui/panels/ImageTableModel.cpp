#include "ui/panels/ImageTableModel.h"

#include "app/vmcore/BlockNodeTable.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "ui/panels/SizeText.h"

#include <QColor>
#include <QFileInfo>
#include <QLocale>
#include <QMimeData>
#include <QUrl>

#include <exception>
#include <stdexcept>

namespace e2kvm::ui {

ImageTableModel::ImageTableModel(vm::BlockNodeTable* nodes, QObject* parent)
    : QAbstractTableModel(parent), nodes_(nodes) {}

void ImageTableModel::open(ImageRow& row) {
    row.node.reset();
    row.lookedAt = false;
    row.error.clear();
    if (!nodes_) {
        row.error = tr("no block node table");
        return;
    }
    const std::string file = row.file.toStdString();
    if ((row.node = nodes_->findByFile(file)))
        return;
    // Looking is read-only: not in the node table, and nothing in the file changes. It shares
    // the image as qemu-img info -U does, so that a VM (here or elsewhere) can still start on
    // it while the look stays open, and an image another process writes can be looked at.
    try {
        block::OpenOptions readOnly;
        readOnly.readOnly = true;
        readOnly.forceShare = true;
        auto look = std::make_shared<vm::BlockNode>();
        look->file = file;
        look->readOnly = true;
        look->image = block::openImage(file, readOnly);
        look->format = look->image->formatName();
        row.node = std::move(look);
        row.lookedAt = true;
    } catch (const std::exception& e) {
        row.error = QString::fromStdString(e.what());
    }
}

std::shared_ptr<vm::BlockNode> ImageTableModel::openForChange(int r) {
    if (r < 0 || r >= int(rows_.size()))
        throw std::out_of_range("no such image row");
    ImageRow& row = rows_[size_t(r)];
    if (!nodes_)
        throw std::runtime_error("no block node table");
    if (row.node && !row.lookedAt)
        return row.node;
    row.node = nodes_->open(row.file.toStdString(), "", false);
    row.lookedAt = false;
    row.error.clear();
    emit dataChanged(index(r, 0), index(r, ColumnCount - 1));
    return row.node;
}

void ImageTableModel::setVmImages(const QStringList& files) {
    beginResetModel();
    std::vector<ImageRow> kept;
    for (const QString& f : files) {
        if (f.isEmpty())
            continue;
        bool dup = false;
        for (const ImageRow& r : kept)
            dup = dup || r.file == f;
        if (dup)
            continue;
        ImageRow r;
        r.file = f;
        r.fromVm = true;
        kept.push_back(std::move(r));
    }
    for (ImageRow& r : rows_) {
        if (r.fromVm)
            continue;
        bool dup = false;
        for (const ImageRow& k : kept)
            dup = dup || k.file == r.file;
        if (!dup)
            kept.push_back(std::move(r));
    }
    rows_ = std::move(kept);
    for (ImageRow& r : rows_)
        if (r.fromVm)
            open(r);
    endResetModel();
}

int ImageTableModel::addImage(const QString& file) {
    QString path = QFileInfo(file).absoluteFilePath();
    int existing = findFile(path);
    if (existing >= 0)
        return existing;
    int r = int(rows_.size());
    beginInsertRows({}, r, r);
    ImageRow row;
    row.file = path;
    open(row);
    rows_.push_back(std::move(row));
    endInsertRows();
    return r;
}

bool ImageTableModel::removeRow(int r) {
    if (r < 0 || r >= int(rows_.size()) || rows_[size_t(r)].fromVm)
        return false;
    beginRemoveRows({}, r, r);
    rows_.erase(rows_.begin() + r);
    endRemoveRows();
    return true;
}

void ImageTableModel::reopen(int r) {
    if (r < 0 || r >= int(rows_.size()))
        return;
    open(rows_[size_t(r)]);
    emit dataChanged(index(r, 0), index(r, ColumnCount - 1));
}

void ImageTableModel::closeRow(int r, const QString& why) {
    if (r < 0 || r >= int(rows_.size()))
        return;
    rows_[size_t(r)].node.reset();
    rows_[size_t(r)].error = why;
    emit dataChanged(index(r, 0), index(r, ColumnCount - 1));
}

void ImageTableModel::refresh() {
    if (nodes_)
        for (ImageRow& r : rows_) {
            if (r.lookedAt) {
                if (auto live = nodes_->findByFile(r.file.toStdString())) {
                    r.node = std::move(live);
                    r.lookedAt = false;
                }
            } else if (r.node && nodes_->find(r.node->name) != r.node) {
                // Its node was closed (the VM shut down): look at the file as it is now,
                // rather than keep the closed node's image open.
                open(r);
            }
        }
    if (!rows_.empty())
        emit dataChanged(index(0, 0), index(int(rows_.size()) - 1, ColumnCount - 1));
}

int ImageTableModel::findFile(const QString& file) const {
    QString path = QFileInfo(file).absoluteFilePath();
    for (size_t i = 0; i < rows_.size(); ++i)
        if (rows_[i].file == file || QFileInfo(rows_[i].file).absoluteFilePath() == path)
            return int(i);
    return -1;
}

int ImageTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(rows_.size());
}

int ImageTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QString ImageTableModel::sizeText(uint64_t bytes) {
    return ui::sizeText(bytes);
}

QString ImageTableModel::backingChainText(const ImageRow& row) {
    if (!row.node || !row.node->image)
        return {};
    QStringList names;
    for (block::BlockDriver* b = row.node->image->backing(); b; b = b->backing())
        names << QFileInfo(QString::fromStdString(b->filename())).fileName();
    return names.join(QStringLiteral(" → "));
}

QVariant ImageTableModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const ImageRow& r = rows_[size_t(index.row())];
    block::BlockDriver* image = r.node ? r.node->image.get() : nullptr;
    if (role == Qt::ToolTipRole) {
        if (!r.error.isEmpty())
            return r.error;
        if (index.column() == FileColumn)
            return r.file;
        return data(index, Qt::DisplayRole); // the whole text of a narrowed column
    }
    if (role == Qt::ForegroundRole && !r.error.isEmpty())
        return QColor(0xc0, 0x20, 0x20);
    if (role != Qt::DisplayRole)
        return {};
    if (index.column() == FileColumn)
        return QFileInfo(r.file).fileName() + (r.fromVm ? QString() : tr(" (added)"));
    if (!image)
        return index.column() == FormatColumn ? tr("error: %1").arg(r.error) : QVariant();
    switch (index.column()) {
    case FormatColumn:
        return QString::fromStdString(image->formatName()) +
               (image->readOnly() && !r.lookedAt ? tr(" (read-only)") : QString());
    case VirtualSizeColumn:
        return sizeText(image->size());
    case AllocatedColumn:
        return sizeText(image->allocatedBytes());
    case ClusterColumn:
        return image->clusterSize() ? sizeText(image->clusterSize()) : QStringLiteral("—");
    case BackingColumn:
        return backingChainText(r);
    case BitmapsColumn: {
        block::BitmapCatalog* cat = image->bitmaps();
        return cat ? QVariant(qulonglong(cat->list().size())) : QVariant(QStringLiteral("—"));
    }
    default:
        return {};
    }
}

QVariant ImageTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    static const char* const names[] = {
        "File", "Format", "Virtual size", "Allocated", "Cluster size", "Backing chain", "Bitmaps"};
    if (section < 0 || section >= ColumnCount)
        return {};
    return tr(names[section]);
}

Qt::ItemFlags ImageTableModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags f = QAbstractTableModel::flags(index) | Qt::ItemIsDropEnabled;
    return f;
}

QStringList ImageTableModel::mimeTypes() const {
    return {QStringLiteral("text/uri-list")};
}

bool ImageTableModel::canDropMimeData(const QMimeData* data, Qt::DropAction, int, int,
                                      const QModelIndex&) const {
    if (!data || !data->hasUrls())
        return false;
    for (const QUrl& u : data->urls())
        if (u.isLocalFile())
            return true;
    return false;
}

bool ImageTableModel::dropMimeData(const QMimeData* data, Qt::DropAction action, int row,
                                   int column, const QModelIndex& parent) {
    if (!canDropMimeData(data, action, row, column, parent))
        return false;
    for (const QUrl& u : data->urls())
        if (u.isLocalFile())
            addImage(u.toLocalFile());
    return true;
}

Qt::DropActions ImageTableModel::supportedDropActions() const {
    return Qt::CopyAction | Qt::LinkAction;
}

} // namespace e2kvm::ui
