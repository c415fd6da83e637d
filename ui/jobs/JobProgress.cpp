#include "ui/jobs/JobProgress.h"

#include <QMetaObject>
#include <QThread>

#include <algorithm>
#include <cmath>

namespace e2kvm::ui {

JobProgress::JobProgress(QString title, QObject* parent)
    : QObject(parent), title_(std::move(title)) {
    clock_.start();
}

void JobProgress::setTotal(uint64_t total) {
    total_.store(total);
    notifyChanged();
}

void JobProgress::advance(uint64_t amount) {
    done_.fetch_add(amount);
    notifyChanged();
}

void JobProgress::setDone(uint64_t done) {
    done_.store(done);
    notifyChanged();
}

void JobProgress::setStatus(const QString& text) {
    {
        std::lock_guard lock(textMutex_);
        status_ = text;
    }
    QMetaObject::invokeMethod(
        this, [this, text] { emit statusChanged(text); }, Qt::QueuedConnection);
}

void JobProgress::throwIfCancelled() const {
    if (cancelRequested())
        throw JobCancelled();
}

void JobProgress::requestCancel() {
    cancel_.store(true);
}

double JobProgress::fraction() const {
    uint64_t t = total_.load();
    if (t == 0)
        return 0;
    return std::clamp(double(done_.load()) / double(t), 0.0, 1.0);
}

std::optional<double> JobProgress::etaSeconds() const {
    uint64_t t = total_.load(), d = done_.load();
    if (t == 0 || d == 0)
        return std::nullopt;
    if (d >= t)
        return 0.0;
    double elapsed = double(clock_.elapsed()) / 1000.0;
    return elapsed * double(t - d) / double(d);
}

QString JobProgress::status() const {
    std::lock_guard lock(textMutex_);
    return status_;
}

QString JobProgress::message() const {
    std::lock_guard lock(textMutex_);
    return message_;
}

void JobProgress::finish(State state, const QString& message) {
    {
        std::lock_guard lock(textMutex_);
        message_ = message;
    }
    if (state == State::Succeeded && total_.load() > 0)
        done_.store(total_.load());
    state_.store(state);
    emit progressChanged();
    emit finished(state == State::Succeeded, message);
}

QString JobProgress::formatEta(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0)
        return QStringLiteral("unknown");
    auto s = static_cast<long long>(std::llround(seconds));
    if (s < 60)
        return QStringLiteral("%1 s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 h %2 min")
        .arg(s / 3600)
        .arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

void JobProgress::notifyChanged() {
    // Coalesce: at most one queued notification in flight, however fast the worker reports.
    if (updatePending_.exchange(true))
        return;
    QMetaObject::invokeMethod(
        this,
        [this] {
            updatePending_.store(false);
            emit progressChanged();
        },
        Qt::QueuedConnection);
}

} // namespace e2kvm::ui
