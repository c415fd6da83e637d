#pragma once
// RestorePointTableModel: the restore points of one backup directory as the Backups tab lists
// them: point number, when it was taken (local time), full or incremental, the size of its
// file, how much of the disk changed since the previous point, and whether the last verify
// found it intact.
#include "app/backup/RestorePoint.h"

#include <QAbstractTableModel>

#include <vector>

namespace e2kvm::ui {

class RestorePointTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { PointCol, TimeCol, TypeCol, StoredCol, ChangedCol, VerifiedCol, ColumnCount };

    explicit RestorePointTableModel(QObject* parent = nullptr);

    // Oldest first, as BackupRepository::points() lists them.
    void setPoints(std::vector<backup::RestorePoint> points);
    const std::vector<backup::RestorePoint>& points() const { return points_; }
    const backup::RestorePoint* pointAt(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    // "2026-12-06 13:30:05" in local time from the manifest's ISO 8601 UTC time.
    static QString localTime(const std::string& isoUtc);

private:
    std::vector<backup::RestorePoint> points_;
};

} // namespace e2kvm::ui
