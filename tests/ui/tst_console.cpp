// ConsoleWidget: paints published frames (pixel probes), repaints changed regions, scales in
// the three modes, and turns keys and pointer motion into guest input.
#include "emu/display/FramePublisher.h"
#include "emu/display/InputSink.h"
#include "ui/console/ConsoleWidget.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QSignalSpy>
#include <QTest>

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using namespace e2kvm;
using namespace e2kvm::ui;

namespace {

struct RecordingSink : emu::InputSink {
    std::mutex mutex;
    std::vector<std::pair<uint16_t, bool>> keys;
    std::vector<std::tuple<uint16_t, uint16_t, uint32_t>> pointer;
    void keyEvent(uint16_t scancode, bool pressed) override {
        std::lock_guard lock(mutex);
        keys.emplace_back(scancode, pressed);
    }
    void pointerEvent(uint16_t x, uint16_t y, uint32_t buttons) override {
        std::lock_guard lock(mutex);
        pointer.emplace_back(x, y, buttons);
    }
};

// 64x48: left half red, right half blue, a green 8x8 block at (8, 8).
std::vector<uint32_t> testFrame() {
    std::vector<uint32_t> px(64 * 48);
    for (int y = 0; y < 48; ++y)
        for (int x = 0; x < 64; ++x)
            px[size_t(y * 64 + x)] = x < 32 ? 0xFF0000u : 0x0000FFu;
    for (int y = 8; y < 16; ++y)
        for (int x = 8; x < 16; ++x)
            px[size_t(y * 64 + x)] = 0x00FF00u;
    return px;
}

QRgb at(const QImage& img, int x, int y) {
    return img.pixel(x, y) & 0xFFFFFFu;
}

} // namespace

class TestConsole : public QObject {
    Q_OBJECT
private slots:
    void targetRectMath() {
        QCOMPARE(consoleTargetRect({64, 48}, {128, 96}, ScaleMode::Fit), QRect(0, 0, 128, 96));
        QCOMPARE(consoleTargetRect({64, 48}, {200, 96}, ScaleMode::Fit), QRect(36, 0, 128, 96));
        QCOMPARE(consoleTargetRect({64, 48}, {200, 150}, ScaleMode::Integer),
                 QRect(4, 3, 192, 144));
        QCOMPARE(consoleTargetRect({64, 48}, {200, 140}, ScaleMode::Integer),
                 QRect(36, 22, 128, 96));
        QCOMPARE(consoleTargetRect({64, 48}, {200, 150}, ScaleMode::OneToOne),
                 QRect(68, 51, 64, 48));
        // Integer scaling never enlarges past the area; below 1x it shrinks like Fit.
        QCOMPARE(consoleTargetRect({64, 48}, {32, 24}, ScaleMode::Integer), QRect(0, 0, 32, 24));
        QVERIFY(consoleTargetRect({0, 0}, {32, 24}, ScaleMode::Fit).isEmpty());
    }

    void paintsFramesAndScales() {
        emu::FramePublisher pub;
        RecordingSink sink;
        ConsoleWidget w;
        w.setMinimumSize(1, 1);
        w.resize(128, 96);
        QSignalSpy first(&w, &ConsoleWidget::firstFrame);
        w.attach(&pub, &sink);
        std::vector<uint32_t> px = testFrame();
        emu::Rect all{0, 0, 64, 48};
        pub.publish(64, 48, px.data(), 64, std::span(&all, 1));
        QTRY_COMPARE(first.count(), 1);
        QCOMPARE(w.image().size(), QSize(64, 48));

        QImage shot = w.grab().toImage();
        QCOMPARE(shot.size(), QSize(128, 96));
        QCOMPARE(at(shot, 10, 60), QRgb(0xFF0000)); // red half, scaled 2x
        QCOMPARE(at(shot, 100, 60), QRgb(0x0000FF));
        QCOMPARE(at(shot, 24, 24), QRgb(0x00FF00)); // green block at (8..16)*2

        // Only the dirty region changes: paint the green block yellow.
        for (int y = 8; y < 16; ++y)
            for (int x = 8; x < 16; ++x)
                px[size_t(y * 64 + x)] = 0xFFFF00u;
        emu::Rect dirty{8, 8, 8, 8};
        pub.publish(64, 48, px.data(), 64, std::span(&dirty, 1));
        QTRY_COMPARE(w.framesShown(), uint64_t(2));
        shot = w.grab().toImage();
        QCOMPARE(at(shot, 24, 24), QRgb(0xFFFF00));
        QCOMPARE(at(shot, 10, 60), QRgb(0xFF0000));

        // 1:1 in a bigger widget: centred, black border.
        w.resize(200, 150);
        w.setScaleMode(ScaleMode::OneToOne);
        shot = w.grab().toImage();
        QCOMPARE(at(shot, 5, 5), QRgb(0x000000));
        QCOMPARE(at(shot, 68 + 10, 51 + 40), QRgb(0xFF0000));
        QCOMPARE(at(shot, 68 + 50, 51 + 40), QRgb(0x0000FF));
        QCOMPARE(at(shot, 68 + 12, 51 + 12), QRgb(0xFFFF00));
        // Integer: 3x centred (200x150 holds 3.125x).
        w.setScaleMode(ScaleMode::Integer);
        shot = w.grab().toImage();
        QCOMPARE(at(shot, 4 + 36, 3 + 36), QRgb(0xFFFF00));
        QCOMPARE(at(shot, 4 + 120, 3 + 100), QRgb(0x0000FF));
        QCOMPARE(at(shot, 1, 75), QRgb(0x000000));
        // Fit: 150/48 = 3.125 < 200/64: height fills.
        w.setScaleMode(ScaleMode::Fit);
        QCOMPARE(w.targetRect().height(), 150);
        w.detach();
    }

    void resizedFrameIsRepaintedWhole() {
        emu::FramePublisher pub;
        ConsoleWidget w;
        w.setMinimumSize(1, 1);
        w.resize(64, 48);
        w.attach(&pub, nullptr);
        std::vector<uint32_t> px(32 * 24, 0x123456u);
        emu::Rect all{0, 0, 32, 24};
        pub.publish(32, 24, px.data(), 32, std::span(&all, 1));
        QTRY_COMPARE(w.framesShown(), uint64_t(1));
        std::vector<uint32_t> big = testFrame();
        emu::Rect whole{0, 0, 64, 48};
        pub.publish(64, 48, big.data(), 64, std::span(&whole, 1));
        QTRY_COMPARE(w.image().size(), QSize(64, 48));
        QImage shot = w.grab().toImage();
        QCOMPARE(at(shot, 40, 30), QRgb(0x0000FF));
        QCOMPARE(at(shot, 2, 30), QRgb(0xFF0000));
    }

    void keysAndPointerReachTheGuest() {
        emu::FramePublisher pub;
        RecordingSink sink;
        ConsoleWidget w;
        w.setMinimumSize(1, 1);
        w.resize(128, 96);
        w.attach(&pub, &sink);
        std::vector<uint32_t> px = testFrame();
        emu::Rect all{0, 0, 64, 48};
        pub.publish(64, 48, px.data(), 64, std::span(&all, 1));
        QTRY_COMPARE(w.framesShown(), uint64_t(1));

        QTest::keyPress(&w, Qt::Key_A);
        QTest::keyRelease(&w, Qt::Key_A);
        QTest::keyPress(&w, Qt::Key_Up);
        QTest::keyRelease(&w, Qt::Key_Up);
        {
            std::lock_guard lock(sink.mutex);
            std::vector<std::pair<uint16_t, bool>> want{
                {0x1E, true}, {0x1E, false}, {0xE048, true}, {0xE048, false}};
            QVERIFY(sink.keys == want);
            sink.keys.clear();
        }
        // Ctrl+Alt+G toggles the keyboard grab and is not sent as 'G'.
        QSignalSpy grab(&w, &ConsoleWidget::keyboardGrabChanged);
        QTest::keyClick(&w, Qt::Key_G, Qt::ControlModifier | Qt::AltModifier);
        QCOMPARE(grab.count(), 1);
        QVERIFY(w.keyboardGrabbed());
        QTest::keyClick(&w, Qt::Key_G, Qt::ControlModifier | Qt::AltModifier);
        QVERIFY(!w.keyboardGrabbed());
        {
            std::lock_guard lock(sink.mutex);
            for (auto& [code, down] : sink.keys)
                QVERIFY(code != 0x22);
            sink.keys.clear();
        }
        // Send Key: presses in order, releases in reverse.
        w.sendKeys({0x1D, 0x38, 0xE053});
        {
            std::lock_guard lock(sink.mutex);
            std::vector<std::pair<uint16_t, bool>> want{{0x1D, true},   {0x38, true},
                                                        {0xE053, true}, {0xE053, false},
                                                        {0x38, false},  {0x1D, false}};
            QVERIFY(sink.keys == want);
        }
        // Pointer: the frame spans the whole widget; corners map to 0 and 32767.
        auto mouse = [&w](QEvent::Type type, QPointF pos, Qt::MouseButton button,
                          Qt::MouseButtons buttons) {
            QMouseEvent e(type, pos, w.mapToGlobal(pos), button, buttons, Qt::NoModifier);
            QCoreApplication::sendEvent(&w, &e);
        };
        mouse(QEvent::MouseMove, QPointF(0, 0), Qt::NoButton, Qt::NoButton);
        mouse(QEvent::MouseMove, QPointF(127, 95), Qt::NoButton, Qt::NoButton);
        mouse(QEvent::MouseButtonPress, QPointF(64, 48), Qt::LeftButton, Qt::LeftButton);
        {
            std::lock_guard lock(sink.mutex);
            QVERIFY(sink.pointer.size() >= 3);
            auto [x0, y0, b0] = sink.pointer[sink.pointer.size() - 3];
            auto [x1, y1, b1] = sink.pointer[sink.pointer.size() - 2];
            auto [x2, y2, b2] = sink.pointer.back();
            QCOMPARE(x0, uint16_t(0));
            QCOMPARE(y0, uint16_t(0));
            QCOMPARE(x1, uint16_t(32767));
            QCOMPARE(y1, uint16_t(32767));
            QVERIFY(std::abs(int(x2) - 16512) < 200);
            QCOMPARE(b2, 1u);
            (void)b0;
            (void)b1;
            (void)y2;
        }
        w.detach();
    }

    void lateNotificationsAfterDetachAreHarmless() {
        emu::FramePublisher pub;
        std::vector<uint32_t> px = testFrame();
        emu::Rect all{0, 0, 64, 48};
        for (int i = 0; i < 20; ++i) {
            auto w = std::make_unique<ConsoleWidget>();
            w->attach(&pub, nullptr);
            std::thread t([&] {
                for (int k = 0; k < 50; ++k)
                    pub.publish(64, 48, px.data(), 64, std::span(&all, 1));
            });
            QCoreApplication::processEvents();
            w.reset(); // destroyed while the other thread publishes
            t.join();
            QCoreApplication::processEvents();
        }
    }
};

QTEST_MAIN(TestConsole)
#include "tst_console.moc"
