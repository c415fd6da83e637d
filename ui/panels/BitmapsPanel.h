#pragma once
// BitmapsPanel: the bitmaps tab of the main window (first version; filled in below).
#include <QStringList>
#include <QWidget>

namespace e2kvm::ui {

struct AppContext;

class BitmapsPanel : public QWidget {
    Q_OBJECT
public:
    explicit BitmapsPanel(AppContext& context, QWidget* parent = nullptr);

public slots:
    void setImages(const QStringList& files);
    void setVmRunning(bool running);

private:
    AppContext& context_;
    QStringList vmImages_;
    bool vmRunning_ = false;
};

} // namespace e2kvm::ui
