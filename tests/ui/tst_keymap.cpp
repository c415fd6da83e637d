// KeyMap: evdev → set 1 table, the Qt::Key fallback, and that both agree for the same keys.
#include "ui/console/KeyMap.h"

#include <QKeyEvent>
#include <QTest>

using namespace e2kvm::ui;

class TestKeyMap : public QObject {
    Q_OBJECT
private slots:
    void evdevMainBlockIsIdentity() {
        // evdev 1..83 are the set-1 codes of the same keys (ESC ... keypad '.').
        for (uint32_t code = 1; code <= 83; ++code)
            QCOMPARE(scancodeFromEvdev(code), uint16_t(code));
        QCOMPARE(scancodeFromEvdev(87), uint16_t(0x57)); // F11
        QCOMPARE(scancodeFromEvdev(88), uint16_t(0x58)); // F12
        QCOMPARE(scancodeFromEvdev(86), uint16_t(0x56)); // ISO extra key
    }
    void evdevExtendedKeys() {
        QCOMPARE(scancodeFromEvdev(96), uint16_t(0xE01C));  // keypad Enter
        QCOMPARE(scancodeFromEvdev(97), uint16_t(0xE01D));  // right Ctrl
        QCOMPARE(scancodeFromEvdev(100), uint16_t(0xE038)); // AltGr
        QCOMPARE(scancodeFromEvdev(103), uint16_t(0xE048)); // Up
        QCOMPARE(scancodeFromEvdev(108), uint16_t(0xE050)); // Down
        QCOMPARE(scancodeFromEvdev(111), uint16_t(0xE053)); // Delete
        QCOMPARE(scancodeFromEvdev(125), uint16_t(0xE05B)); // left Meta
    }
    void evdevUnmappedIsZero() {
        for (uint32_t code : {0u, 84u, 85u, 119u /* Pause */, 240u, 0xFFFFFFFFu})
            QCOMPARE(scancodeFromEvdev(code), uint16_t(0));
    }
    void qtFallbackAgreesWithEvdev_data() {
        QTest::addColumn<int>("key");
        QTest::addColumn<int>("modifiers");
        QTest::addColumn<uint>("evdev");
        auto row = [](const char* name, int key, int mods, uint evdev) {
            QTest::newRow(name) << key << mods << evdev;
        };
        row("A", Qt::Key_A, 0, 30);
        row("Q", Qt::Key_Q, 0, 16);
        row("Z", Qt::Key_Z, 0, 44);
        row("M", Qt::Key_M, 0, 50);
        row("1", Qt::Key_1, 0, 2);
        row("0", Qt::Key_0, 0, 11);
        row("exclam=1", Qt::Key_Exclam, 0, 2);
        row("Escape", Qt::Key_Escape, 0, 1);
        row("Backspace", Qt::Key_Backspace, 0, 14);
        row("Return", Qt::Key_Return, 0, 28);
        row("Space", Qt::Key_Space, 0, 57);
        row("F1", Qt::Key_F1, 0, 59);
        row("F10", Qt::Key_F10, 0, 68);
        row("F12", Qt::Key_F12, 0, 88);
        row("Left", Qt::Key_Left, 0, 105);
        row("Delete", Qt::Key_Delete, 0, 111);
        row("keypad 7", Qt::Key_7, int(Qt::KeypadModifier), 71);
        row("keypad Enter", Qt::Key_Enter, int(Qt::KeypadModifier), 96);
        row("keypad /", Qt::Key_Slash, int(Qt::KeypadModifier), 98);
    }
    void qtFallbackAgreesWithEvdev() {
        QFETCH(int, key);
        QFETCH(int, modifiers);
        QFETCH(uint, evdev);
        uint16_t expected = scancodeFromEvdev(evdev);
        QVERIFY(expected != 0);
        QCOMPARE(scancodeFromQtKey(key, Qt::KeyboardModifiers(modifiers)), expected);
    }
    void eventUsesNativeCodeWhenAsked() {
        // XKB keycode 38 = evdev 30 = 'A' position, although the key says 'Q' (AZERTY).
        QKeyEvent e(QEvent::KeyPress, Qt::Key_Q, Qt::NoModifier, 38, 0, 0, QStringLiteral("q"));
        QCOMPARE(scancodeFor(e, true), uint16_t(0x1E));
        QCOMPARE(scancodeFor(e, false), uint16_t(0x10));
        // No native code (offscreen, QTest): the Qt key decides.
        QKeyEvent plain(QEvent::KeyPress, Qt::Key_Q, Qt::NoModifier);
        QCOMPARE(scancodeFor(plain, true), uint16_t(0x10));
    }
    void unknownKeysAreZero() {
        QCOMPARE(scancodeFromQtKey(Qt::Key_unknown, Qt::NoModifier), uint16_t(0));
        QCOMPARE(scancodeFromQtKey(Qt::Key_LaunchMail, Qt::NoModifier), uint16_t(0));
    }
};

QTEST_MAIN(TestKeyMap)
#include "tst_keymap.moc"
