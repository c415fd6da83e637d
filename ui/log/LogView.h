#pragma once
// LogView: the log window: a table of timestamped, level-coloured entries with a text filter
// and a minimum-level choice; follows new entries while scrolled to the bottom.
#include <QWidget>

class QComboBox;
class QLineEdit;
class QTableView;

namespace e2kvm::ui {

class LogModel;
class LogFilterModel;

class LogView : public QWidget {
    Q_OBJECT
public:
    explicit LogView(LogModel& model, QWidget* parent = nullptr);

    void setFilterText(const QString& text);
    // Rows currently shown (after filtering).
    int visibleRows() const;

private:
    LogModel& model_;
    LogFilterModel* filter_;
    QLineEdit* filterEdit_;
    QComboBox* levelBox_;
    QTableView* table_;
};

} // namespace e2kvm::ui
