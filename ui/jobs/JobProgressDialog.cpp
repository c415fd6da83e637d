#include "ui/jobs/JobProgressDialog.h"

#include "ui/jobs/JobProgress.h"

#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

namespace e2kvm::ui {

JobProgressDialog::JobProgressDialog(JobProgress& job, QWidget* parent)
    : QDialog(parent), job_(&job) {
    setWindowTitle(job.title());
    setAttribute(Qt::WA_DeleteOnClose);
    auto* layout = new QVBoxLayout(this);
    status_ = new QLabel(job.title(), this);
    bar_ = new QProgressBar(this);
    bar_->setRange(0, 1000);
    eta_ = new QLabel(this);
    cancel_ = new QPushButton(tr("Cancel"), this);
    layout->addWidget(status_);
    layout->addWidget(bar_);
    layout->addWidget(eta_);
    layout->addWidget(cancel_, 0, Qt::AlignRight);
    connect(cancel_, &QPushButton::clicked, this, [this] {
        if (job_) {
            job_->requestCancel();
            cancel_->setEnabled(false);
            cancel_->setText(tr("Cancelling…"));
        }
    });
    connect(&job, &JobProgress::progressChanged, this, &JobProgressDialog::refresh);
    connect(&job, &JobProgress::statusChanged, status_, &QLabel::setText);
    connect(&job, &JobProgress::finished, this, [this] { accept(); });
    refresh();
}

QString JobProgressDialog::etaText() const {
    return eta_->text();
}

int JobProgressDialog::percent() const {
    return bar_->value() / 10;
}

void JobProgressDialog::refresh() {
    if (!job_)
        return;
    if (job_->total() == 0) {
        bar_->setRange(0, 0); // busy indicator until the size of the work is known
        eta_->setText(tr("Remaining: unknown"));
        return;
    }
    bar_->setRange(0, 1000);
    bar_->setValue(int(job_->fraction() * 1000));
    auto eta = job_->etaSeconds();
    eta_->setText(eta ? tr("Remaining: %1").arg(JobProgress::formatEta(*eta))
                      : tr("Remaining: unknown"));
}

} // namespace e2kvm::ui
