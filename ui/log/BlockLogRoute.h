#pragma once
// BlockLogRoute: while it lives, the block layer's warnings (block/BlockLog.h) appear in the
// GUI's log (level "warning" or "error", "IMAGE: text") instead of on stderr, which a desktop
// user never sees.
#include "block/BlockLog.h"

namespace e2kvm::ui {

class LogModel;

class BlockLogRoute {
public:
    explicit BlockLogRoute(LogModel& log);
    ~BlockLogRoute(); // back to the previous sink
    BlockLogRoute(const BlockLogRoute&) = delete;
    BlockLogRoute& operator=(const BlockLogRoute&) = delete;

private:
    block::LogSink previous_;
};

} // namespace e2kvm::ui
