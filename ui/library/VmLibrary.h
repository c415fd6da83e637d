#pragma once
// VmLibrary: the user's VMs as a list model (name, run state, live thumbnail, or a switched-off
// monitor before a VM has shown a screen). Each definition is one JSON file NAME.json in the
// library directory, written atomically and read back on start.
#include "ui/library/VmDefinition.h"

#include <QAbstractListModel>
#include <QImage>
#include <QStringList>

namespace e2kvm::ui {

class VmLibrary : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role { NameRole = Qt::UserRole + 1, StateRole, UuidRole, ThumbnailRole };

    // `directory` holds the NAME.json files; created when the first VM is saved.
    explicit VmLibrary(QString directory, QObject* parent = nullptr);

    // $XDG_CONFIG_HOME/e2kvm/vms (QStandardPaths::AppConfigLocation + "/vms").
    static QString defaultDirectory();

    // (Re)reads every *.json file. Files that cannot be used are skipped and listed in
    // loadErrors() ("Foo.json: 'memory-mib' must be an integer in 16..3072").
    void reload();
    QStringList loadErrors() const { return loadErrors_; }

    QString directory() const { return directory_; }
    QString filePath(const QString& name) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    int count() const { return static_cast<int>(entries_.size()); }
    const VmDefinition& at(int row) const { return entries_.at(row).def; }
    int indexOf(const QString& name) const; // -1 if absent (names compare case-insensitively)
    bool contains(const QString& name) const { return indexOf(name) >= 0; }
    // `base` if free, else "base 2", "base 3", ...
    QString uniqueName(const QString& base) const;

    // Each throws std::runtime_error with context on a bad definition, a duplicate name or a
    // file that cannot be written; the model is unchanged then.
    int add(VmDefinition def);                     // returns the new row
    void update(int row, const VmDefinition& def); // a rename moves the file
    void remove(int row);                          // deletes the definition file only

    // Runtime state shown in the list (not saved).
    void setRunState(const QString& name, const QString& state);
    QString runState(int row) const { return entries_.at(row).state; }
    void setThumbnail(const QString& name, const QImage& thumbnail);

private:
    struct Entry {
        VmDefinition def;
        QString state = QStringLiteral("stopped");
        QImage thumbnail;
    };
    void write(const VmDefinition& def) const;

    QString directory_;
    QList<Entry> entries_;
    QStringList loadErrors_;
};

// Writes `def` as JSON to `path` atomically (QSaveFile: temporary file + rename), so a crash
// leaves either the old or the new file. Throws std::runtime_error naming the file.
void writeDefinitionFile(const QString& path, const VmDefinition& def);
// Throws std::runtime_error naming the file on I/O errors, bad JSON or bad content.
VmDefinition readDefinitionFile(const QString& path);

} // namespace e2kvm::ui
