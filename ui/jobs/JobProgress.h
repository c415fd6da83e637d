#pragma once
// JobProgress: the one progress object of a long job (convert, check, create...). The worker
// thread reports work done and polls the cancel flag; the GUI thread reads the fraction and ETA
// and hears progressChanged/finished, always delivered on the GUI thread.
#include <QElapsedTimer>
#include <QObject>
#include <QString>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>

namespace e2kvm::ui {

// Thrown by JobProgress::throwIfCancelled() inside a job; the runner reports it as "Cancelled".
class JobCancelled : public std::runtime_error {
public:
    JobCancelled() : std::runtime_error("Cancelled") {}
};

class JobProgress : public QObject {
    Q_OBJECT
public:
    enum class State { Running, Succeeded, Failed, Cancelled };

    explicit JobProgress(QString title, QObject* parent = nullptr);

    QString title() const { return title_; }

    // --- any thread (normally the worker) ---
    void setTotal(uint64_t total);
    void advance(uint64_t amount);
    void setDone(uint64_t done);
    void setStatus(const QString& text);
    bool cancelRequested() const { return cancel_.load(std::memory_order_relaxed); }
    // Throws JobCancelled once cancel was requested.
    void throwIfCancelled() const;
    // Asks the job to stop at its next check (the Cancel button calls it).
    void requestCancel();

    // --- readers (any thread) ---
    uint64_t total() const { return total_.load(); }
    uint64_t done() const { return done_.load(); }
    // done/total in [0, 1]; 0 while the total is unknown.
    double fraction() const;
    // Seconds still needed at the average rate so far; empty until something was done.
    std::optional<double> etaSeconds() const;
    QString status() const;
    State state() const { return state_.load(); }
    // The result text (success) or the error message (failure), set when the job ended.
    QString message() const;

    // Called by JobRunner on the GUI thread when the job's work function returned.
    void finish(State state, const QString& message);

    // "1 min 05 s", "12 s": how an ETA is shown.
    static QString formatEta(double seconds);

signals:
    void progressChanged();
    void statusChanged(const QString& text);
    void finished(bool ok, const QString& message);

private:
    void notifyChanged();

    QString title_;
    std::atomic<uint64_t> total_{0};
    std::atomic<uint64_t> done_{0};
    std::atomic<bool> cancel_{false};
    std::atomic<bool> updatePending_{false};
    std::atomic<State> state_{State::Running};
    QElapsedTimer clock_;
    mutable std::mutex textMutex_;
    QString status_;
    QString message_;
};

} // namespace e2kvm::ui
