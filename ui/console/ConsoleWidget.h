#pragma once
// ConsoleWidget: shows a guest display from a FramePublisher and sends keyboard and pointer
// input to an InputSink. Repaints only what changed, scales to fit / by an integer factor / 1:1,
// and can grab the keyboard (released with Ctrl+Alt+G). A banner ("Paused", "Stopped") over the
// picture says when the last frame is not live.
#include <QImage>
#include <QString>
#include <QWidget>

#include <cstdint>
#include <memory>
#include <vector>

class QPainter;

namespace e2kvm::emu {
class FramePublisher;
class InputSink;
} // namespace e2kvm::emu

namespace e2kvm::ui {

enum class ScaleMode { Fit, Integer, OneToOne };

// Where a frame of `frame` size is drawn inside a widget of `area` size (centred): Fit keeps
// the aspect ratio and fills as much as possible; Integer uses the largest whole factor that
// fits (at least 1, shrinking like Fit if even 1 does not fit); OneToOne never scales.
QRect consoleTargetRect(QSize frame, QSize area, ScaleMode mode);

class ConsoleWidget : public QWidget {
    Q_OBJECT
public:
    explicit ConsoleWidget(QWidget* parent = nullptr);
    ~ConsoleWidget() override;

    // Shows `display` and sends input to `input` (either may be null: nothing shown / input
    // dropped). The publisher must outlive the attachment (call detach() first).
    void attach(emu::FramePublisher* display, emu::InputSink* input);
    void detach();

    ScaleMode scaleMode() const { return mode_; }
    void setScaleMode(ScaleMode mode);
    bool keyboardGrabbed() const { return grabbed_; }
    void setKeyboardGrabbed(bool grab);

    // The last frame shown (RGB32), null before the first one.
    QImage image() const { return image_; }
    uint64_t framesShown() const { return framesShown_; }
    QRect targetRect() const { return consoleTargetRect(image_.size(), size(), mode_); }

    // Presses the scancodes in order, then releases them in reverse (Send Key menu).
    void sendKeys(const std::vector<uint16_t>& scancodes);

    QSize sizeHint() const override;

    // Text drawn in a band across the picture (empty: none): the frame is not live.
    void setStateBanner(const QString& text);
    QString stateBanner() const { return banner_; }

public slots:
    // Takes the newest frame from the publisher and repaints what changed (queued from the
    // machine thread; also callable directly).
    void refresh();

signals:
    void firstFrame();
    void keyboardGrabChanged(bool grabbed);
    void frameSizeChanged(QSize size);

protected:
    void paintEvent(QPaintEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void keyReleaseEvent(QKeyEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void focusOutEvent(QFocusEvent* event) override;
    bool focusNextPrevChild(bool next) override;

private:
    void sendPointer(QPointF pos, Qt::MouseButtons buttons);
    void paintBanner(QPainter& p) const;

    struct NotifyGate; // lets the machine thread post to this widget only while attached
    std::shared_ptr<NotifyGate> gate_;
    emu::FramePublisher* display_ = nullptr;
    emu::InputSink* input_ = nullptr;
    int listener_ = 0;
    QImage image_;
    ScaleMode mode_ = ScaleMode::Fit;
    bool grabbed_ = false;
    bool swallowRelease_ = false;
    uint64_t framesShown_ = 0;
    QString banner_;
    std::vector<uint16_t> pressed_; // scancodes down in the guest (released on focus loss)
};

} // namespace e2kvm::ui
