#include "ui/jobs/JobRunner.h"

#include <QMetaObject>

#include <exception>

namespace e2kvm::ui {

JobRunner::JobRunner(QObject* parent) : QObject(parent) {}

JobRunner::~JobRunner() {
    for (auto& [job, thread] : workers_)
        job->requestCancel();
    for (auto& [job, thread] : workers_)
        if (thread.joinable())
            thread.join();
}

JobProgress* JobRunner::start(const QString& title, Work work) {
    auto* job = new JobProgress(title, this);
    workers_.emplace(job, std::thread([this, job, work = std::move(work)] {
                         JobProgress::State state = JobProgress::State::Succeeded;
                         QString message;
                         try {
                             message = work(*job);
                         } catch (const JobCancelled&) {
                             state = JobProgress::State::Cancelled;
                             message = QStringLiteral("Cancelled");
                         } catch (const std::exception& e) {
                             state = JobProgress::State::Failed;
                             message = QString::fromStdString(e.what());
                         } catch (...) {
                             state = JobProgress::State::Failed;
                             message = QStringLiteral("unknown error");
                         }
                         // If the runner is gone meanwhile, the queued call is dropped with it.
                         QMetaObject::invokeMethod(
                             this, [this, job, state, message] { complete(job, state, message); },
                             Qt::QueuedConnection);
                     }));
    emit jobStarted(job);
    return job;
}

QList<JobProgress*> JobRunner::running() const {
    QList<JobProgress*> out;
    for (const auto& entry : workers_)
        out.append(entry.first);
    return out;
}

void JobRunner::complete(JobProgress* job, JobProgress::State state, const QString& message) {
    auto it = workers_.find(job);
    if (it != workers_.end()) {
        if (it->second.joinable())
            it->second.join(); // the worker has posted its result: it is about to return
        workers_.erase(it);
    }
    job->finish(state, message);
    emit jobFinished(job, state == JobProgress::State::Succeeded, message);
    job->deleteLater();
}

} // namespace e2kvm::ui
