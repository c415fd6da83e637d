#include "ui/log/BlockLogRoute.h"

#include "ui/log/LogModel.h"

namespace e2kvm::ui {

BlockLogRoute::BlockLogRoute(LogModel& log) {
    previous_ = block::setLogSink([&log](const block::LogMessage& m) {
        // LogModel::append is thread-safe: a message from an I/O thread is queued.
        log.append(m.level == block::LogLevel::Warning ? QStringLiteral("warning")
                                                       : QStringLiteral("error"),
                   QString::fromStdString(m.image + ": " + m.text));
    });
}

BlockLogRoute::~BlockLogRoute() {
    block::setLogSink(std::move(previous_));
}

} // namespace e2kvm::ui
