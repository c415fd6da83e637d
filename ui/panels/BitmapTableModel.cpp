#include "ui/panels/BitmapTableModel.h"

#include "ui/panels/SizeText.h"

#include <QColor>
#include <QLocale>

namespace e2kvm::ui {

BitmapTableModel::BitmapTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void BitmapTableModel::setBitmaps(std::vector<block::NamedBitmap> bitmaps) {
    bool sameRows = bitmaps.size() == bitmaps_.size();
    for (size_t i = 0; sameRows && i < bitmaps.size(); ++i)
        sameRows = bitmaps[i].name == bitmaps_[i].name;
    if (!sameRows) {
        beginResetModel();
        bitmaps_ = std::move(bitmaps);
        endResetModel();
        return;
    }
    bitmaps_ = std::move(bitmaps);
    if (!bitmaps_.empty())
        emit dataChanged(index(0, 0), index(int(bitmaps_.size()) - 1, ColumnCount - 1));
}

int BitmapTableModel::findName(const QString& name) const {
    for (size_t i = 0; i < bitmaps_.size(); ++i)
        if (QString::fromStdString(bitmaps_[i].name) == name)
            return int(i);
    return -1;
}

int BitmapTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(bitmaps_.size());
}

int BitmapTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant BitmapTableModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const block::NamedBitmap& b = bitmaps_[size_t(index.row())];
    auto yesNo = [](bool v) { return v ? tr("yes") : tr("no"); };
    if (role == Qt::ForegroundRole && b.inconsistent)
        return QColor(0xc0, 0x20, 0x20);
    if (role == Qt::ToolTipRole && b.inconsistent)
        return tr("Inconsistent: it was not saved correctly, so it may miss writes. It can only "
                  "be removed; take a full backup and start a new checkpoint.");
    if (role == Qt::ToolTipRole && index.column() == NameColumn)
        return QString::fromStdString(b.name); // the whole name of a narrowed column
    if (role == Qt::UserRole && index.column() == DirtyColumn)
        return b.bitmap ? QVariant(qulonglong(b.bitmap->dirtyBytes())) : QVariant();
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case NameColumn:
        return QString::fromStdString(b.name);
    case GranularityColumn:
        return sizeText(b.granularity);
    case EnabledColumn:
        return yesNo(b.enabled);
    case PersistentColumn:
        return yesNo(b.persistent);
    case DirtyColumn:
        if (!b.bitmap)
            return QStringLiteral("—");
        return sizeText(b.bitmap->dirtyBytes());
    case ConsistentColumn:
        return b.inconsistent ? tr("no — remove it") : tr("yes");
    default:
        return {};
    }
}

QVariant BitmapTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    static const char* const names[] = {"Name",       "Granularity", "Enabled",
                                        "Persistent", "Dirty",       "Consistent"};
    if (section < 0 || section >= ColumnCount)
        return {};
    return tr(names[section]);
}

} // namespace e2kvm::ui
