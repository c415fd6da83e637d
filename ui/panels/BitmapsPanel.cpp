#include "ui/panels/BitmapsPanel.h"

#include "ui/AppContext.h"

namespace e2kvm::ui {

BitmapsPanel::BitmapsPanel(AppContext& context, QWidget* parent)
    : QWidget(parent), context_(context) {}

void BitmapsPanel::setImages(const QStringList& files) {
    vmImages_ = files;
}

void BitmapsPanel::setVmRunning(bool running) {
    vmRunning_ = running;
}

} // namespace e2kvm::ui
