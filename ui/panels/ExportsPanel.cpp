#include "ui/panels/ExportsPanel.h"

#include "ui/AppContext.h"

namespace e2kvm::ui {

ExportsPanel::ExportsPanel(AppContext& context, QWidget* parent)
    : QWidget(parent), context_(context) {}

void ExportsPanel::setImages(const QStringList& files) {
    vmImages_ = files;
}

void ExportsPanel::setVmRunning(bool running) {
    vmRunning_ = running;
}

} // namespace e2kvm::ui
