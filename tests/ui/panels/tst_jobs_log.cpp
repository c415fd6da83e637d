// JobRunner/JobProgress (progress, ETA, cancel, errors delivered on the GUI thread, progress
// dialog) and LogModel/LogView (thread-safe append, colours, filter, capacity).
#include "ui/jobs/JobProgressDialog.h"
#include "ui/jobs/JobRunner.h"
#include "ui/log/LogFilterModel.h"
#include "ui/log/LogModel.h"
#include "ui/log/LogView.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace e2kvm::ui;

class JobsLogTest : public QObject {
    Q_OBJECT
private slots:
    void jobReportsProgressAndResultOnGuiThread();
    void cancelStopsJob();
    void errorCarriesRealMessage();
    void progressDialogShowsPercentAndEta();
    void runnerDestructorCancelsRunningJobs();
    void etaFormatting();
    void logAppendFromThreads();
    void logColoursAndCapacity();
    void logViewFilters();
};

void JobsLogTest::jobReportsProgressAndResultOnGuiThread() {
    JobRunner runner;
    std::atomic<bool> release{false};
    QThread* gui = QThread::currentThread();
    QThread* finishedOn = nullptr;
    JobProgress* job = runner.start("count", [&](JobProgress& p) {
        p.setTotal(1000);
        for (int i = 0; i < 10; ++i)
            p.advance(50);
        while (!release.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        p.advance(500);
        return QStringLiteral("counted to %1").arg(p.done());
    });
    QSignalSpy progress(job, &JobProgress::progressChanged);
    QSignalSpy finished(job, &JobProgress::finished);
    connect(job, &JobProgress::finished, this, [&] { finishedOn = QThread::currentThread(); });
    QTRY_COMPARE_WITH_TIMEOUT(job->done(), uint64_t(500), 10000);
    QTRY_VERIFY(progress.count() >= 1);
    QCOMPARE(job->fraction(), 0.5);
    QVERIFY(job->etaSeconds().has_value());
    QCOMPARE(runner.runningCount(), 1);
    release = true;
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
    QCOMPARE(finished.at(0).at(0).toBool(), true);
    QCOMPARE(finished.at(0).at(1).toString(), QStringLiteral("counted to 1000"));
    QCOMPARE(finishedOn, gui);
    QCOMPARE(runner.runningCount(), 0);
}

void JobsLogTest::cancelStopsJob() {
    JobRunner runner;
    std::atomic<int> loops{0};
    JobProgress* job = runner.start("spin", [&](JobProgress& p) -> QString {
        p.setTotal(1u << 30);
        for (;;) {
            p.throwIfCancelled();
            p.advance(1);
            ++loops;
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    });
    QSignalSpy finished(job, &JobProgress::finished);
    QSignalSpy runnerFinished(&runner, &JobRunner::jobFinished);
    // The runner deletes the job after its finished signal: read its state there.
    JobProgress::State state = JobProgress::State::Running;
    connect(job, &JobProgress::finished, this, [&state, job] { state = job->state(); });
    QTRY_VERIFY(loops.load() > 5);
    job->requestCancel();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QCOMPARE(finished.at(0).at(1).toString(), QStringLiteral("Cancelled"));
    QCOMPARE(state, JobProgress::State::Cancelled);
    QCOMPARE(runnerFinished.count(), 1);
}

void JobsLogTest::errorCarriesRealMessage() {
    JobRunner runner;
    JobProgress* job = runner.start("fail", [](JobProgress&) -> QString {
        throw std::runtime_error("t.qcow2: L1 table entry 12 points past end of file");
    });
    QSignalSpy finished(job, &JobProgress::finished);
    JobProgress::State state = JobProgress::State::Running;
    connect(job, &JobProgress::finished, this, [&state, job] { state = job->state(); });
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QCOMPARE(finished.at(0).at(1).toString(),
             QStringLiteral("t.qcow2: L1 table entry 12 points past end of file"));
    QCOMPARE(state, JobProgress::State::Failed);
}

void JobsLogTest::progressDialogShowsPercentAndEta() {
    JobRunner runner;
    std::atomic<bool> release{false};
    JobProgress* job = runner.start("half", [&](JobProgress& p) {
        p.setTotal(200);
        p.setDone(50);
        while (!release.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return QString();
    });
    auto* dialog = new JobProgressDialog(*job);
    dialog->show();
    QTRY_COMPARE_WITH_TIMEOUT(dialog->percent(), 25, 10000);
    QVERIFY2(dialog->etaText().startsWith(QStringLiteral("Remaining: ")),
             qPrintable(dialog->etaText()));
    QVERIFY(!dialog->etaText().contains(QStringLiteral("unknown")));
    QPointer<JobProgressDialog> watch(dialog);
    release = true;
    QTRY_VERIFY_WITH_TIMEOUT(watch.isNull(), 10000); // closes (and deletes) itself at the end
}

void JobsLogTest::runnerDestructorCancelsRunningJobs() {
    std::atomic<bool> sawCancel{false};
    {
        JobRunner runner;
        runner.start("forever", [&](JobProgress& p) -> QString {
            while (!p.cancelRequested())
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            sawCancel = true;
            return {};
        });
    } // must not hang
    QVERIFY(sawCancel.load());
}

void JobsLogTest::etaFormatting() {
    QCOMPARE(JobProgress::formatEta(12.4), QStringLiteral("12 s"));
    QCOMPARE(JobProgress::formatEta(65), QStringLiteral("1 min 05 s"));
    QCOMPARE(JobProgress::formatEta(3 * 3600 + 120), QStringLiteral("3 h 02 min"));
    QCOMPARE(JobProgress::formatEta(-1), QStringLiteral("unknown"));
}

void JobsLogTest::logAppendFromThreads() {
    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&model, t] {
            for (int i = 0; i < 100; ++i)
                model.append("info", QStringLiteral("thread %1 line %2").arg(t).arg(i));
        });
    for (auto& th : threads)
        th.join();
    model.append("warning", "from the GUI thread"); // direct
    QCOMPARE(model.rowCount(), 1);
    QTRY_COMPARE(model.rowCount(), 401);
    // Each thread's lines arrive in its own order.
    int last[4] = {-1, -1, -1, -1};
    for (int r = 0; r < model.rowCount(); ++r) {
        QString text = model.entry(r).text;
        if (!text.startsWith("thread "))
            continue;
        int t = text.section(' ', 1, 1).toInt(), i = text.section(' ', 3, 3).toInt();
        QVERIFY(i > last[t]);
        last[t] = i;
    }
}

void JobsLogTest::logColoursAndCapacity() {
    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setCapacity(3);
    model.append("Error", "e1");
    model.append("info", "i1");
    model.append("warning", "w1");
    model.append("debug", "d1");
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.entry(0).text, QStringLiteral("i1")); // the oldest went
    QCOMPARE(model.data(model.index(2, LogModel::LevelColumn)).toString(), QStringLiteral("debug"));
    QCOMPARE(
        model.data(model.index(1, LogModel::MessageColumn), Qt::ForegroundRole).value<QColor>(),
        LogModel::levelColor("warning"));
    QVERIFY(LogModel::levelColor("error") != LogModel::levelColor("info"));
    QVERIFY(QDateTime::fromString(model.data(model.index(0, LogModel::TimeColumn)).toString(),
                                  "yyyy-MM-dd hh:mm:ss.zzz")
                .isValid());
    model.clear();
    QCOMPARE(model.rowCount(), 0);
}

void JobsLogTest::logViewFilters() {
    LogModel model;
    model.append("info", "opened disk.qcow2");
    model.append("error", "disk.qcow2: bitmap 'b' is inconsistent");
    model.append("info", "NBD server listening");
    LogView view(model);
    QCOMPARE(view.visibleRows(), 3);
    view.setFilterText("QCOW2");
    QCOMPARE(view.visibleRows(), 2);
    view.setFilterText("");
    LogFilterModel f;
    f.setSourceModel(&model);
    QAbstractItemModelTester tester(&f, QAbstractItemModelTester::FailureReportingMode::QtTest);
    f.setMinimumLevel(3);
    QCOMPARE(f.rowCount(), 1);
    f.setMinimumLevel(0);
    f.setText("server");
    QCOMPARE(f.rowCount(), 1);
}

QTEST_MAIN(JobsLogTest)
#include "tst_jobs_log.moc"
