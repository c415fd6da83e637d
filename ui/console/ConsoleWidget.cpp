#include "ui/console/ConsoleWidget.h"

#include "emu/display/FramePublisher.h"
#include "emu/display/InputSink.h"
#include "ui/console/KeyMap.h"

#include <QKeyEvent>
#include <QMetaObject>
#include <QMouseEvent>
#include <QPainter>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>

namespace e2kvm::ui {

// The publisher calls its listeners outside its own lock, so a notification can still arrive
// after unsubscribe(): the gate makes such late calls harmless once the widget has detached.
struct ConsoleWidget::NotifyGate {
    std::mutex mutex;
    ConsoleWidget* target = nullptr;
    std::atomic<bool> queued{false}; // one queued refresh at a time: frames are dropped, not queued
};

QRect consoleTargetRect(QSize frame, QSize area, ScaleMode mode) {
    if (frame.isEmpty() || area.isEmpty())
        return {};
    double fw = frame.width(), fh = frame.height();
    double scale = 1.0;
    double fit = std::min(area.width() / fw, area.height() / fh);
    switch (mode) {
    case ScaleMode::Fit:
        scale = fit;
        break;
    case ScaleMode::Integer:
        scale = fit >= 1.0 ? std::floor(fit) : fit;
        break;
    case ScaleMode::OneToOne:
        scale = 1.0;
        break;
    }
    int w = std::max(1, static_cast<int>(std::lround(fw * scale)));
    int h = std::max(1, static_cast<int>(std::lround(fh * scale)));
    return QRect((area.width() - w) / 2, (area.height() - h) / 2, w, h);
}

ConsoleWidget::ConsoleWidget(QWidget* parent)
    : QWidget(parent), gate_(std::make_shared<NotifyGate>()) {
    gate_->target = this;
    setFocusPolicy(Qt::StrongFocus);
    setMouseTracking(true);
    setAttribute(Qt::WA_OpaquePaintEvent);
    setMinimumSize(160, 120);
}

ConsoleWidget::~ConsoleWidget() {
    detach();
    std::lock_guard lock(gate_->mutex);
    gate_->target = nullptr;
}

void ConsoleWidget::attach(emu::FramePublisher* display, emu::InputSink* input) {
    detach();
    display_ = display;
    input_ = input;
    if (display_) {
        std::shared_ptr<NotifyGate> gate = gate_;
        listener_ = display_->subscribe([gate] {
            if (gate->queued.exchange(true))
                return;
            std::lock_guard lock(gate->mutex);
            if (gate->target)
                QMetaObject::invokeMethod(gate->target, "refresh", Qt::QueuedConnection);
        });
        refresh();
    }
}

void ConsoleWidget::detach() {
    if (input_) {
        for (auto it = pressed_.rbegin(); it != pressed_.rend(); ++it)
            input_->keyEvent(*it, false);
    }
    pressed_.clear();
    if (display_)
        display_->unsubscribe(listener_);
    display_ = nullptr;
    input_ = nullptr;
    listener_ = 0;
    setKeyboardGrabbed(false);
}

void ConsoleWidget::refresh() {
    gate_->queued.store(false);
    if (!display_)
        return;
    std::optional<emu::FramePublisher::Taken> taken = display_->take(listener_);
    if (!taken || !taken->image)
        return;
    const emu::FrameImage& frame = *taken->image;
    if (frame.width <= 0 || frame.height <= 0 ||
        frame.pixels.size() < size_t(frame.width) * size_t(frame.height))
        return;
    bool resized =
        taken->resized || image_.width() != frame.width || image_.height() != frame.height;
    emu::Rect dirty = resized ? emu::Rect{0, 0, frame.width, frame.height}
                              : taken->dirty.clipped(frame.width, frame.height);
    if (resized)
        image_ = QImage(frame.width, frame.height, QImage::Format_RGB32);
    for (int y = dirty.y; y < dirty.y + dirty.h; ++y) {
        const uint32_t* src = frame.pixels.data() + size_t(y) * size_t(frame.width) + dirty.x;
        auto* dst = reinterpret_cast<uint32_t*>(image_.scanLine(y)) + dirty.x;
        for (int x = 0; x < dirty.w; ++x)
            dst[x] = 0xFF000000u | src[x];
    }
    bool first = framesShown_ == 0;
    ++framesShown_;
    if (resized) {
        updateGeometry();
        update();
        emit frameSizeChanged(image_.size());
    } else if (!dirty.empty()) {
        // Map the dirty rectangle into widget coordinates (one pixel of slack for smoothing).
        QRect target = targetRect();
        double sx = double(target.width()) / image_.width();
        double sy = double(target.height()) / image_.height();
        QRect r(target.x() + int(std::floor(dirty.x * sx)) - 1,
                target.y() + int(std::floor(dirty.y * sy)) - 1, int(std::ceil(dirty.w * sx)) + 3,
                int(std::ceil(dirty.h * sy)) + 3);
        update(r);
    }
    if (first)
        emit firstFrame();
}

void ConsoleWidget::setScaleMode(ScaleMode mode) {
    mode_ = mode;
    update();
}

void ConsoleWidget::setKeyboardGrabbed(bool grab) {
    if (grab == grabbed_)
        return;
    grabbed_ = grab;
    if (grab)
        grabKeyboard();
    else
        releaseKeyboard();
    emit keyboardGrabChanged(grab);
}

QSize ConsoleWidget::sizeHint() const {
    return image_.isNull() ? QSize(640, 480) : image_.size();
}

void ConsoleWidget::paintEvent(QPaintEvent* event) {
    QPainter p(this);
    p.setClipRegion(event->region());
    QRect target = targetRect();
    if (image_.isNull() || target.isEmpty()) {
        p.fillRect(rect(), Qt::black);
        paintBanner(p);
        return;
    }
    // Black borders around the picture, then the picture itself.
    QRegion border = QRegion(rect()).subtracted(QRegion(target));
    for (const QRect& r : border)
        p.fillRect(r, Qt::black);
    bool whole = target.width() % image_.width() == 0 && target.height() % image_.height() == 0;
    p.setRenderHint(QPainter::SmoothPixmapTransform, !whole);
    p.drawImage(target, image_);
    paintBanner(p);
}

void ConsoleWidget::setStateBanner(const QString& text) {
    if (text == banner_)
        return;
    banner_ = text;
    update();
}

void ConsoleWidget::paintBanner(QPainter& p) const {
    if (banner_.isEmpty())
        return;
    // A dark band across the middle of the widget with the state in large letters.
    QFont font = p.font();
    font.setPointSizeF(font.pointSizeF() * 2);
    font.setBold(true);
    p.setFont(font);
    const int h = QFontMetrics(font).height() * 2;
    const QRect band(0, (height() - h) / 2, width(), h);
    p.fillRect(band, QColor(0, 0, 0, 170));
    p.setPen(Qt::white);
    p.drawText(band, Qt::AlignCenter, banner_);
}

void ConsoleWidget::keyPressEvent(QKeyEvent* event) {
    Qt::KeyboardModifiers mods = event->modifiers();
    if (event->key() == Qt::Key_G && (mods & Qt::ControlModifier) && (mods & Qt::AltModifier)) {
        setKeyboardGrabbed(!grabbed_);
        swallowRelease_ = true; // the guest saw no press of G, so it gets no release either
        return;
    }
    uint16_t code = scancodeFor(*event, platformHasXkbKeycodes());
    if (!code || !input_) {
        event->ignore();
        return;
    }
    // Auto-repeat sends make codes again, as a PC keyboard's typematic repeat does.
    input_->keyEvent(code, true);
    if (std::find(pressed_.begin(), pressed_.end(), code) == pressed_.end())
        pressed_.push_back(code);
}

void ConsoleWidget::keyReleaseEvent(QKeyEvent* event) {
    if (event->isAutoRepeat())
        return;
    if (swallowRelease_ && event->key() == Qt::Key_G) {
        swallowRelease_ = false;
        return;
    }
    uint16_t code = scancodeFor(*event, platformHasXkbKeycodes());
    if (!code || !input_) {
        event->ignore();
        return;
    }
    input_->keyEvent(code, false);
    pressed_.erase(std::remove(pressed_.begin(), pressed_.end(), code), pressed_.end());
}

void ConsoleWidget::focusOutEvent(QFocusEvent* event) {
    // Keys held while focus leaves would stay down in the guest forever.
    if (input_) {
        for (auto it = pressed_.rbegin(); it != pressed_.rend(); ++it)
            input_->keyEvent(*it, false);
    }
    pressed_.clear();
    QWidget::focusOutEvent(event);
}

bool ConsoleWidget::focusNextPrevChild(bool) {
    return false; // Tab belongs to the guest
}

void ConsoleWidget::sendKeys(const std::vector<uint16_t>& scancodes) {
    if (!input_)
        return;
    for (uint16_t c : scancodes)
        input_->keyEvent(c, true);
    for (auto it = scancodes.rbegin(); it != scancodes.rend(); ++it)
        input_->keyEvent(*it, false);
}

void ConsoleWidget::sendPointer(QPointF pos, Qt::MouseButtons buttons) {
    QRect target = targetRect();
    if (!input_ || target.isEmpty())
        return;
    double fx = (pos.x() - target.x()) / std::max(1, target.width() - 1);
    double fy = (pos.y() - target.y()) / std::max(1, target.height() - 1);
    auto axis = [](double f) {
        return static_cast<uint16_t>(std::lround(std::clamp(f, 0.0, 1.0) * 32767.0));
    };
    uint32_t b = 0;
    if (buttons & Qt::LeftButton)
        b |= 1;
    if (buttons & Qt::RightButton)
        b |= 2;
    if (buttons & Qt::MiddleButton)
        b |= 4;
    input_->pointerEvent(axis(fx), axis(fy), b);
}

void ConsoleWidget::mouseMoveEvent(QMouseEvent* event) {
    sendPointer(event->position(), event->buttons());
}

void ConsoleWidget::mousePressEvent(QMouseEvent* event) {
    setFocus(Qt::MouseFocusReason);
    sendPointer(event->position(), event->buttons());
}

void ConsoleWidget::mouseReleaseEvent(QMouseEvent* event) {
    sendPointer(event->position(), event->buttons());
}

} // namespace e2kvm::ui
