#include "ui/panels/RestorePointTableModel.h"

#include "ui/panels/SizeText.h"

#include <QBrush>
#include <QDateTime>

namespace e2kvm::ui {

RestorePointTableModel::RestorePointTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void RestorePointTableModel::setPoints(std::vector<backup::RestorePoint> points) {
    beginResetModel();
    points_ = std::move(points);
    endResetModel();
}

const backup::RestorePoint* RestorePointTableModel::pointAt(int row) const {
    if (row < 0 || row >= int(points_.size()))
        return nullptr;
    return &points_[size_t(row)];
}

int RestorePointTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(points_.size());
}

int RestorePointTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QString RestorePointTableModel::localTime(const std::string& isoUtc) {
    QDateTime t = QDateTime::fromString(QString::fromStdString(isoUtc), Qt::ISODate);
    if (!t.isValid())
        return QString::fromStdString(isoUtc);
    return t.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
}

QVariant RestorePointTableModel::data(const QModelIndex& index, int role) const {
    const backup::RestorePoint* p = pointAt(index.row());
    if (!p || index.column() < 0 || index.column() >= ColumnCount)
        return {};
    const bool full = p->type == backup::PointType::Full;
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case PointCol:
            return QVariant::fromValue<qulonglong>(p->number);
        case TimeCol:
            return localTime(p->time);
        case TypeCol:
            return full ? tr("full") : tr("incremental");
        case StoredCol:
            return sizeText(p->storedBytes);
        case ChangedCol:
            return full ? tr("%1 (whole disk)").arg(sizeText(p->virtualSize))
                        : sizeText(p->changedBytes);
        case VerifiedCol:
            if (p->verified)
                return tr("yes, %1").arg(localTime(p->verifiedTime));
            return p->verifiedTime.empty() ? tr("not yet") : tr("FAILED");
        }
    }
    if (role == Qt::ToolTipRole) {
        return tr("%1\nfrom %2\n%3 of guest data in the point")
            .arg(QString::fromStdString(p->file), QString::fromStdString(p->source),
                 sizeText(p->copiedBytes));
    }
    if (role == Qt::ForegroundRole && index.column() == VerifiedCol && !p->verified &&
        !p->verifiedTime.empty())
        return QBrush(Qt::red);
    if (role == Qt::TextAlignmentRole &&
        (index.column() == PointCol || index.column() == StoredCol))
        return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant RestorePointTableModel::headerData(int section, Qt::Orientation orientation,
                                            int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case PointCol:
        return tr("Point");
    case TimeCol:
        return tr("Time");
    case TypeCol:
        return tr("Type");
    case StoredCol:
        return tr("Stored");
    case ChangedCol:
        return tr("Changed data");
    case VerifiedCol:
        return tr("Verified");
    }
    return {};
}

} // namespace e2kvm::ui
