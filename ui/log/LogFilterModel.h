#pragma once
// LogFilterModel: which log entries the log view shows: those at or above a minimum level whose
// message or level contains the filter text (case-insensitive).
#include <QSortFilterProxyModel>

namespace e2kvm::ui {

class LogFilterModel : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit LogFilterModel(QObject* parent = nullptr);
    void setText(const QString& text);
    // 0 debug, 1 info, 2 warning, 3 error
    void setMinimumLevel(int rank);
    static int levelRank(const QString& level);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    QString text_;
    int minimum_ = 0;
};

} // namespace e2kvm::ui
