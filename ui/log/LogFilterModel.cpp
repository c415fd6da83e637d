#include "ui/log/LogFilterModel.h"

#include "ui/log/LogModel.h"

namespace e2kvm::ui {

LogFilterModel::LogFilterModel(QObject* parent) : QSortFilterProxyModel(parent) {}

void LogFilterModel::setText(const QString& text) {
    text_ = text;
    invalidateFilter();
}

void LogFilterModel::setMinimumLevel(int rank) {
    minimum_ = rank;
    invalidateFilter();
}

int LogFilterModel::levelRank(const QString& level) {
    if (level == QLatin1String("debug"))
        return 0;
    if (level == QLatin1String("warning"))
        return 2;
    if (level == QLatin1String("error"))
        return 3;
    return 1;
}

bool LogFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    auto* log = qobject_cast<LogModel*>(sourceModel());
    if (!log || sourceParent.isValid())
        return true;
    const LogEntry& e = log->entry(sourceRow);
    if (levelRank(e.level) < minimum_)
        return false;
    if (text_.isEmpty())
        return true;
    return e.text.contains(text_, Qt::CaseInsensitive) ||
           e.level.contains(text_, Qt::CaseInsensitive);
}

} // namespace e2kvm::ui
