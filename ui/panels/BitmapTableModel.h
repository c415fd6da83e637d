#pragma once
// BitmapTableModel: the dirty bitmaps of one image (name, granularity, enabled, persistent,
// dirty bytes, consistent), refreshed from the image's BitmapCatalog.
#include "block/bitmap/BitmapCatalog.h"

#include <QAbstractTableModel>

#include <vector>

namespace e2kvm::ui {

class BitmapTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        NameColumn,
        GranularityColumn,
        EnabledColumn,
        PersistentColumn,
        DirtyColumn,
        ConsistentColumn,
        ColumnCount
    };

    explicit BitmapTableModel(QObject* parent = nullptr);

    // Shows these bitmaps; rows keep their place when only contents changed.
    void setBitmaps(std::vector<block::NamedBitmap> bitmaps);
    const std::vector<block::NamedBitmap>& bitmaps() const { return bitmaps_; }
    int findName(const QString& name) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    std::vector<block::NamedBitmap> bitmaps_;
};

} // namespace e2kvm::ui
