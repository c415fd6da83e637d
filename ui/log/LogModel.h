#pragma once
// LogModel: the application log (time, level, message) as a table model; append() may be
// called from any thread and lands on the model's thread in order. Keeps the newest entries.
#include <QAbstractTableModel>
#include <QDateTime>
#include <QString>

#include <deque>

namespace e2kvm::ui {

struct LogEntry {
    QDateTime time;
    QString level; // "info", "warning", "error", "debug"
    QString text;
};

class LogModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TimeColumn, LevelColumn, MessageColumn, ColumnCount };
    static constexpr int kDefaultCapacity = 10000;

    explicit LogModel(QObject* parent = nullptr);

    // Thread-safe: from another thread the entry is queued to the model's thread.
    void append(QString level, QString text);
    void clear();
    // Oldest entries are dropped beyond this many.
    void setCapacity(int entries);
    const LogEntry& entry(int row) const { return entries_[size_t(row)]; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    // The colour a level is shown in.
    static QColor levelColor(const QString& level);

private:
    void appendHere(LogEntry entry);

    std::deque<LogEntry> entries_;
    int capacity_ = kDefaultCapacity;
};

} // namespace e2kvm::ui
