#pragma once
// JobProgressDialog: a small non-modal window showing one job's title, status, progress bar,
// ETA and a Cancel button; it closes itself when the job ends.
#include <QDialog>
#include <QPointer>

class QLabel;
class QProgressBar;
class QPushButton;

namespace e2kvm::ui {

class JobProgress;

class JobProgressDialog : public QDialog {
    Q_OBJECT
public:
    explicit JobProgressDialog(JobProgress& job, QWidget* parent = nullptr);

    // Visible texts (tests read them).
    QString etaText() const;
    int percent() const;

private:
    void refresh();

    QPointer<JobProgress> job_;
    QLabel* status_;
    QProgressBar* bar_;
    QLabel* eta_;
    QPushButton* cancel_;
};

} // namespace e2kvm::ui
