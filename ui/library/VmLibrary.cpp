#include "ui/library/VmLibrary.h"

#include <QDir>
#include <QFile>
#include <QIcon>
#include <QJsonDocument>
#include <QSaveFile>
#include <QStandardPaths>

#include <algorithm>
#include <stdexcept>

namespace e2kvm::ui {

namespace {
// A definition is a few hundred bytes; anything huge is not ours.
constexpr qint64 kMaxDefinitionBytes = 1 << 20;

[[noreturn]] void fail(const QString& message) {
    throw std::runtime_error(message.toStdString());
}
} // namespace

void writeDefinitionFile(const QString& path, const VmDefinition& def) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        fail(QStringLiteral("%1: cannot write: %2").arg(path, file.errorString()));
    QByteArray bytes = QJsonDocument(toJson(def)).toJson(QJsonDocument::Indented);
    if (file.write(bytes) != bytes.size())
        fail(QStringLiteral("%1: write failed: %2").arg(path, file.errorString()));
    if (!file.commit())
        fail(QStringLiteral("%1: cannot save: %2").arg(path, file.errorString()));
}

VmDefinition readDefinitionFile(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        fail(QStringLiteral("%1: cannot read: %2").arg(path, file.errorString()));
    if (file.size() > kMaxDefinitionBytes)
        fail(QStringLiteral("%1: %2 bytes is too big for a VM definition")
                 .arg(path)
                 .arg(file.size()));
    QByteArray bytes = file.read(kMaxDefinitionBytes + 1);
    QJsonParseError error{};
    QJsonDocument doc = QJsonDocument::fromJson(bytes, &error);
    if (error.error != QJsonParseError::NoError)
        fail(QStringLiteral("%1: bad JSON at offset %2: %3")
                 .arg(path)
                 .arg(error.offset)
                 .arg(error.errorString()));
    if (!doc.isObject())
        fail(QStringLiteral("%1: not a JSON object").arg(path));
    return fromJson(doc.object(), path);
}

VmLibrary::VmLibrary(QString directory, QObject* parent)
    : QAbstractListModel(parent), directory_(std::move(directory)) {}

QString VmLibrary::defaultDirectory() {
    return QStandardPaths::writableLocation(QStandardPaths::AppConfigLocation) +
           QStringLiteral("/vms");
}

QString VmLibrary::filePath(const QString& name) const {
    return directory_ + u'/' + name + QStringLiteral(".json");
}

void VmLibrary::reload() {
    beginResetModel();
    entries_.clear();
    loadErrors_.clear();
    QDir dir(directory_);
    const QStringList files = dir.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Name);
    for (const QString& f : files) {
        QString path = dir.filePath(f);
        try {
            VmDefinition def = readDefinitionFile(path);
            if (def.name + QStringLiteral(".json") != f)
                fail(QStringLiteral("%1: holds VM '%2'; the file name must be '%2.json'")
                         .arg(path, def.name));
            if (indexOf(def.name) >= 0)
                fail(QStringLiteral("%1: a VM named '%2' exists already").arg(path, def.name));
            entries_.append(Entry{std::move(def), QStringLiteral("stopped"), {}});
        } catch (const std::exception& e) {
            loadErrors_.append(QString::fromStdString(e.what()));
        }
    }
    endResetModel();
}

int VmLibrary::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(entries_.size());
}

QVariant VmLibrary::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Entry& e = entries_.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        return QStringLiteral("%1\n%2").arg(e.def.name, e.state);
    case Qt::ToolTipRole:
        return QStringLiteral("%1: %2 MiB, %3 disk(s), %4")
            .arg(e.def.name)
            .arg(e.def.memoryMiB)
            .arg(e.def.disks.size())
            .arg(e.state);
    case Qt::DecorationRole:
        // A VM that has shown no screen yet is drawn as a switched-off monitor.
        if (e.thumbnail.isNull())
            return QIcon(QStringLiteral(":/ui/icons/vm.png"));
        return QVariant(e.thumbnail);
    case ThumbnailRole:
        return e.thumbnail.isNull() ? QVariant() : QVariant(e.thumbnail);
    case NameRole:
        return e.def.name;
    case StateRole:
        return e.state;
    case UuidRole:
        return e.def.uuid.toString(QUuid::WithoutBraces);
    default:
        return {};
    }
}

QHash<int, QByteArray> VmLibrary::roleNames() const {
    QHash<int, QByteArray> roles = QAbstractListModel::roleNames();
    roles.insert(NameRole, "name");
    roles.insert(StateRole, "state");
    roles.insert(UuidRole, "uuid");
    roles.insert(ThumbnailRole, "thumbnail");
    return roles;
}

int VmLibrary::indexOf(const QString& name) const {
    for (int i = 0; i < entries_.size(); ++i)
        if (entries_[i].def.name.compare(name, Qt::CaseInsensitive) == 0)
            return i;
    return -1;
}

QString VmLibrary::uniqueName(const QString& base) const {
    if (!contains(base))
        return base;
    for (int n = 2;; ++n) {
        QString candidate = QStringLiteral("%1 %2").arg(base).arg(n);
        if (!contains(candidate))
            return candidate;
    }
}

void VmLibrary::write(const VmDefinition& def) const {
    if (!QDir().mkpath(directory_))
        fail(QStringLiteral("%1: cannot create the VM library directory").arg(directory_));
    writeDefinitionFile(filePath(def.name), def);
}

int VmLibrary::add(VmDefinition def) {
    if (QString p = definitionProblem(def); !p.isEmpty())
        fail(QStringLiteral("VM '%1': %2").arg(def.name, p));
    if (contains(def.name))
        fail(QStringLiteral("a VM named '%1' exists already").arg(def.name));
    if (def.uuid.isNull())
        def.uuid = QUuid::createUuid();
    write(def);
    // Keep the list sorted by name, as reload() gives it.
    auto pos = std::lower_bound(entries_.begin(), entries_.end(), def.name,
                                [](const Entry& e, const QString& n) { return e.def.name < n; });
    int row = static_cast<int>(pos - entries_.begin());
    beginInsertRows({}, row, row);
    entries_.insert(row, Entry{std::move(def), QStringLiteral("stopped"), {}});
    endInsertRows();
    return row;
}

void VmLibrary::update(int row, const VmDefinition& def) {
    if (row < 0 || row >= entries_.size())
        fail(QStringLiteral("no VM at row %1").arg(row));
    if (QString p = definitionProblem(def); !p.isEmpty())
        fail(QStringLiteral("VM '%1': %2").arg(def.name, p));
    int other = indexOf(def.name);
    if (other >= 0 && other != row)
        fail(QStringLiteral("a VM named '%1' exists already").arg(def.name));
    QString oldName = entries_[row].def.name;
    write(def);
    if (oldName != def.name)
        QFile::remove(filePath(oldName));
    entries_[row].def = def;
    emit dataChanged(index(row), index(row));
}

void VmLibrary::remove(int row) {
    if (row < 0 || row >= entries_.size())
        fail(QStringLiteral("no VM at row %1").arg(row));
    QString path = filePath(entries_[row].def.name);
    if (QFile::exists(path) && !QFile::remove(path))
        fail(QStringLiteral("%1: cannot delete").arg(path));
    beginRemoveRows({}, row, row);
    entries_.removeAt(row);
    endRemoveRows();
}

void VmLibrary::setRunState(const QString& name, const QString& state) {
    int row = indexOf(name);
    if (row < 0 || entries_[row].state == state)
        return;
    entries_[row].state = state;
    emit dataChanged(index(row), index(row), {Qt::DisplayRole, Qt::ToolTipRole, StateRole});
}

void VmLibrary::setThumbnail(const QString& name, const QImage& thumbnail) {
    int row = indexOf(name);
    if (row < 0)
        return;
    entries_[row].thumbnail = thumbnail;
    emit dataChanged(index(row), index(row), {Qt::DecorationRole, ThumbnailRole});
}

} // namespace e2kvm::ui
