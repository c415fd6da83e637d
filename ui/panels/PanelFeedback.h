#pragma once
// PanelFeedback: how the panels tell the user about outcomes: errors in a (non-blocking)
// message box with the real message plus a log line, and long operations started as jobs with
// a progress window whose result is logged.
#include "ui/jobs/JobRunner.h"

#include <QString>

#include <functional>

class QWidget;

namespace e2kvm::ui {

struct AppContext;

void logLine(AppContext& context, const QString& level, const QString& text);
// Logs the error and shows it in a window-modal box that does not block the caller.
void reportError(AppContext& context, QWidget* parent, const QString& title,
                 const QString& message);

// Starts `work` on the context's job runner (or a runner owned by `parent` when the context has
// none), shows its progress window, logs the result and reports a failure; `done` runs on the
// GUI thread after the job ended (ok = succeeded).
JobProgress* startPanelJob(AppContext& context, QWidget* parent, const QString& title,
                           JobRunner::Work work,
                           std::function<void(bool ok, const QString& message)> done = {});

} // namespace e2kvm::ui
