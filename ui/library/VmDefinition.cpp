#include "ui/library/VmDefinition.h"

#include <QJsonArray>

#include <cmath>

#include <stdexcept>

namespace e2kvm::ui {

QString nameProblem(const QString& name) {
    if (name.isEmpty())
        return QStringLiteral("the name is empty");
    if (name.size() > kMaxNameLength)
        return QStringLiteral("the name is longer than %1 characters").arg(kMaxNameLength);
    if (name.startsWith(u'.') || name.startsWith(u' ') || name.endsWith(u' '))
        return QStringLiteral("the name must not start with '.' or start or end with a space");
    for (QChar c : name) {
        bool ok = (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') ||
                  (c >= u'0' && c <= u'9') || c == u' ' || c == u'-' || c == u'_' || c == u'.';
        if (!ok)
            return QStringLiteral("the name may only hold letters, digits, space, '-', '_' and "
                                  "'.' (not '%1')")
                .arg(c);
    }
    return {};
}

QString definitionProblem(const VmDefinition& def) {
    if (QString p = nameProblem(def.name); !p.isEmpty())
        return p;
    if (def.memoryMiB < kMinMemoryMiB || def.memoryMiB > kMaxMemoryMiB)
        return QStringLiteral("memory %1 MiB is outside %2..%3 MiB")
            .arg(def.memoryMiB)
            .arg(kMinMemoryMiB)
            .arg(kMaxMemoryMiB);
    if (def.disks.size() > kMaxDisks)
        return QStringLiteral("%1 disks (the machine has %2 slots)")
            .arg(def.disks.size())
            .arg(kMaxDisks);
    for (int i = 0; i < def.disks.size(); ++i) {
        const VmDisk& d = def.disks[i];
        if (d.file.isEmpty())
            return QStringLiteral("disk %1 has no file").arg(i);
        if (d.format != QLatin1String("qcow2") && d.format != QLatin1String("raw"))
            return QStringLiteral("disk %1: unknown format '%2'").arg(i).arg(d.format);
    }
    if (!def.backupCompression.isEmpty() && def.backupCompression != QLatin1String("zstd") &&
        def.backupCompression != QLatin1String("zlib"))
        return QStringLiteral("backup compression '%1' is neither zstd nor zlib")
            .arg(def.backupCompression);
    if (def.backupKeep < 0 || def.backupKeep > kMaxBackupKeep)
        return QStringLiteral("keeping %1 backup points is outside 0..%2")
            .arg(def.backupKeep)
            .arg(kMaxBackupKeep);
    if (def.boot != BootKind::Demo && def.bootPath.isEmpty())
        return QStringLiteral("the %1 boot program has no file").arg(bootKindName(def.boot));
    if (def.boot == BootKind::Demo && def.disks.isEmpty())
        return QStringLiteral("the boot ROM starts the program on disk 0, but there is no disk");
    if (def.display.width() < 1 || def.display.width() > 1920 || def.display.height() < 1 ||
        def.display.height() > 1080)
        return QStringLiteral("display %1x%2 is outside 1x1..1920x1080")
            .arg(def.display.width())
            .arg(def.display.height());
    return {};
}

const char* bootKindName(BootKind kind) {
    switch (kind) {
    case BootKind::Demo:
        return "demo";
    case BootKind::Rom:
        return "rom";
    case BootKind::Kernel:
        return "kernel";
    }
    return "demo";
}

QJsonObject toJson(const VmDefinition& def) {
    QJsonArray disks;
    for (const VmDisk& d : def.disks)
        disks.append(
            QJsonObject{{"file", d.file}, {"format", d.format}, {"read-only", d.readOnly}});
    QJsonObject boot{{"kind", QString::fromLatin1(bootKindName(def.boot))}};
    if (def.boot != BootKind::Demo)
        boot.insert("path", def.bootPath);
    QJsonObject obj{
        {"name", def.name},
        {"uuid", def.uuid.toString(QUuid::WithoutBraces)},
        {"memory-mib", static_cast<qint64>(def.memoryMiB)},
        {"disks", disks},
        {"boot", boot},
        {"display", QJsonObject{{"width", def.display.width()}, {"height", def.display.height()}}},
    };
    // Written only when set, so that definitions without backups look as before.
    if (!def.backupDir.isEmpty() || def.backupKeep > 0 || !def.backupCompression.isEmpty()) {
        QJsonObject backup;
        if (!def.backupDir.isEmpty())
            backup.insert("dir", def.backupDir);
        if (def.backupKeep > 0)
            backup.insert("keep", def.backupKeep);
        if (!def.backupCompression.isEmpty())
            backup.insert("compression", def.backupCompression);
        obj.insert("backup", backup);
    }
    return obj;
}

namespace {

[[noreturn]] void fail(const QString& what, const QString& problem) {
    throw std::runtime_error(QStringLiteral("%1: %2").arg(what, problem).toStdString());
}

QString stringField(const QJsonObject& obj, const char* key, const QString& what, bool required) {
    QJsonValue v = obj.value(QLatin1String(key));
    if (v.isUndefined() && !required)
        return {};
    if (!v.isString())
        fail(what, QStringLiteral("'%1' must be a string").arg(QLatin1String(key)));
    return v.toString();
}

int intField(const QJsonObject& obj, const char* key, const QString& what, int lo, int hi) {
    QJsonValue v = obj.value(QLatin1String(key));
    double d = v.toDouble(-1);
    // Range first: converting an out-of-range double (1e300, NaN) to an integer is undefined.
    if (!v.isDouble() || !(d >= lo && d <= hi) || d != std::floor(d))
        fail(what, QStringLiteral("'%1' must be an integer in %2..%3")
                       .arg(QLatin1String(key))
                       .arg(lo)
                       .arg(hi));
    return static_cast<int>(d);
}

} // namespace

VmDefinition fromJson(const QJsonObject& obj, const QString& what) {
    VmDefinition def;
    def.name = stringField(obj, "name", what, true);
    QString uuid = stringField(obj, "uuid", what, false);
    def.uuid = uuid.isEmpty() ? QUuid::createUuid() : QUuid(uuid);
    if (def.uuid.isNull())
        fail(what, QStringLiteral("'uuid' is not a UUID"));
    def.memoryMiB = static_cast<uint32_t>(intField(
        obj, "memory-mib", what, static_cast<int>(kMinMemoryMiB), static_cast<int>(kMaxMemoryMiB)));
    QJsonValue disks = obj.value(QLatin1String("disks"));
    if (!disks.isUndefined() && !disks.isArray())
        fail(what, QStringLiteral("'disks' must be an array"));
    const QJsonArray list = disks.toArray();
    if (list.size() > kMaxDisks)
        fail(what,
             QStringLiteral("%1 disks (the machine has %2 slots)").arg(list.size()).arg(kMaxDisks));
    for (const QJsonValue& v : list) {
        if (!v.isObject())
            fail(what, QStringLiteral("each disk must be an object"));
        QJsonObject o = v.toObject();
        VmDisk d;
        d.file = stringField(o, "file", what, true);
        QString format = stringField(o, "format", what, false);
        if (!format.isEmpty())
            d.format = format;
        QJsonValue ro = o.value(QLatin1String("read-only"));
        if (!ro.isUndefined() && !ro.isBool())
            fail(what, QStringLiteral("'read-only' must be true or false"));
        d.readOnly = ro.toBool(false);
        def.disks.append(d);
    }
    QJsonValue bootValue = obj.value(QLatin1String("boot"));
    if (!bootValue.isUndefined()) {
        if (!bootValue.isObject())
            fail(what, QStringLiteral("'boot' must be an object"));
        QJsonObject boot = bootValue.toObject();
        QString kind = stringField(boot, "kind", what, true);
        if (kind == QLatin1String("demo"))
            def.boot = BootKind::Demo;
        else if (kind == QLatin1String("rom"))
            def.boot = BootKind::Rom;
        else if (kind == QLatin1String("kernel"))
            def.boot = BootKind::Kernel;
        else
            fail(what, QStringLiteral("unknown boot kind '%1'").arg(kind));
        def.bootPath = stringField(boot, "path", what, def.boot != BootKind::Demo);
    }
    QJsonValue display = obj.value(QLatin1String("display"));
    if (!display.isUndefined()) {
        if (!display.isObject())
            fail(what, QStringLiteral("'display' must be an object"));
        QJsonObject d = display.toObject();
        def.display =
            QSize(intField(d, "width", what, 1, 1920), intField(d, "height", what, 1, 1080));
    }
    QJsonValue backup = obj.value(QLatin1String("backup"));
    if (!backup.isUndefined()) {
        if (!backup.isObject())
            fail(what, QStringLiteral("'backup' must be an object"));
        QJsonObject b = backup.toObject();
        def.backupDir = stringField(b, "dir", what, false);
        if (b.contains(QLatin1String("keep")))
            def.backupKeep = intField(b, "keep", what, 0, kMaxBackupKeep);
        def.backupCompression = stringField(b, "compression", what, false);
    }
    if (QString p = definitionProblem(def); !p.isEmpty())
        fail(what, p);
    return def;
}

} // namespace e2kvm::ui
