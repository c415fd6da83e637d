#include "ui/panels/PanelFeedback.h"

#include "ui/AppContext.h"
#include "ui/jobs/JobProgressDialog.h"
#include "ui/log/LogModel.h"

#include <QMessageBox>
#include <QWidget>

namespace e2kvm::ui {

void logLine(AppContext& context, const QString& level, const QString& text) {
    if (context.log)
        context.log->append(level, text);
}

void reportError(AppContext& context, QWidget* parent, const QString& title,
                 const QString& message) {
    logLine(context, QStringLiteral("error"), title + QStringLiteral(": ") + message);
    auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, parent);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setObjectName(QStringLiteral("panelErrorBox"));
    box->open();
}

JobProgress* startPanelJob(AppContext& context, QWidget* parent, const QString& title,
                           JobRunner::Work work,
                           std::function<void(bool ok, const QString& message)> done) {
    JobRunner* runner = context.jobs;
    if (!runner) {
        runner = parent->findChild<JobRunner*>(QStringLiteral("panelJobRunner"),
                                               Qt::FindDirectChildrenOnly);
        if (!runner) {
            runner = new JobRunner(parent);
            runner->setObjectName(QStringLiteral("panelJobRunner"));
        }
    }
    logLine(context, QStringLiteral("info"), title + QStringLiteral(" started"));
    JobProgress* job = runner->start(title, std::move(work));
    auto* dialog = new JobProgressDialog(*job, parent);
    dialog->show();
    QObject::connect(job, &JobProgress::finished, parent,
                     [&context, parent, title, done, job](bool ok, const QString& message) {
                         if (ok)
                             logLine(context, QStringLiteral("info"), message);
                         else if (job->state() == JobProgress::State::Cancelled)
                             logLine(context, QStringLiteral("warning"),
                                     title + QStringLiteral(": cancelled"));
                         else
                             reportError(context, parent, title, message);
                         if (done)
                             done(ok, message);
                     });
    return job;
}

} // namespace e2kvm::ui
