#pragma once
// JobRunner: runs long jobs (convert, check, create) on worker threads, one JobProgress each;
// results and errors (the real exception message) come back on the GUI thread.
#include "ui/jobs/JobProgress.h"

#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <map>
#include <thread>

namespace e2kvm::ui {

class JobRunner : public QObject {
    Q_OBJECT
public:
    // Runs on a worker thread; returns a one-line result for the log, throws on failure
    // (JobCancelled when it noticed a cancel request).
    using Work = std::function<QString(JobProgress&)>;

    explicit JobRunner(QObject* parent = nullptr);
    // Asks every running job to cancel and waits for the workers.
    ~JobRunner() override;

    // Starts `work` at once. The returned progress object belongs to the runner and is deleted
    // (later) after its finished signal; connect to it right away.
    JobProgress* start(const QString& title, Work work);
    QList<JobProgress*> running() const;
    int runningCount() const { return int(workers_.size()); }

signals:
    void jobStarted(e2kvm::ui::JobProgress* job);
    // After the job's own finished signal.
    void jobFinished(e2kvm::ui::JobProgress* job, bool ok, const QString& message);

private:
    void complete(JobProgress* job, JobProgress::State state, const QString& message);

    std::map<JobProgress*, std::thread> workers_;
};

} // namespace e2kvm::ui
