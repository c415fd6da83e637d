#include "ui/log/LogModel.h"

#include <QColor>
#include <QMetaObject>
#include <QThread>

namespace e2kvm::ui {

LogModel::LogModel(QObject* parent) : QAbstractTableModel(parent) {}

void LogModel::append(QString level, QString text) {
    LogEntry entry{QDateTime::currentDateTime(), level.trimmed().toLower(), std::move(text)};
    if (QThread::currentThread() == thread()) {
        appendHere(std::move(entry));
        return;
    }
    QMetaObject::invokeMethod(
        this, [this, entry = std::move(entry)]() mutable { appendHere(std::move(entry)); },
        Qt::QueuedConnection);
}

void LogModel::appendHere(LogEntry entry) {
    if (capacity_ > 0 && int(entries_.size()) >= capacity_) {
        int drop = int(entries_.size()) - capacity_ + 1;
        beginRemoveRows({}, 0, drop - 1);
        entries_.erase(entries_.begin(), entries_.begin() + drop);
        endRemoveRows();
    }
    int row = int(entries_.size());
    beginInsertRows({}, row, row);
    entries_.push_back(std::move(entry));
    endInsertRows();
}

void LogModel::clear() {
    beginResetModel();
    entries_.clear();
    endResetModel();
}

void LogModel::setCapacity(int entries) {
    capacity_ = entries < 1 ? 1 : entries;
    if (int(entries_.size()) > capacity_) {
        int drop = int(entries_.size()) - capacity_;
        beginRemoveRows({}, 0, drop - 1);
        entries_.erase(entries_.begin(), entries_.begin() + drop);
        endRemoveRows();
    }
}

int LogModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(entries_.size());
}

int LogModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant LogModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const LogEntry& e = entries_[size_t(index.row())];
    if (role == Qt::DisplayRole || role == Qt::ToolTipRole) {
        switch (index.column()) {
        case TimeColumn:
            return e.time.toString(QStringLiteral("yyyy-MM-dd hh:mm:ss.zzz"));
        case LevelColumn:
            return e.level;
        case MessageColumn:
            return e.text;
        default:
            return {};
        }
    }
    if (role == Qt::ForegroundRole)
        return levelColor(e.level);
    return {};
}

QVariant LogModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case TimeColumn:
        return tr("Time");
    case LevelColumn:
        return tr("Level");
    case MessageColumn:
        return tr("Message");
    default:
        return {};
    }
}

QColor LogModel::levelColor(const QString& level) {
    if (level == QLatin1String("error"))
        return QColor(0xc0, 0x20, 0x20);
    if (level == QLatin1String("warning"))
        return QColor(0xb0, 0x70, 0x00);
    if (level == QLatin1String("debug"))
        return QColor(0x70, 0x70, 0x70);
    return QColor(0x20, 0x20, 0x20);
}

} // namespace e2kvm::ui
