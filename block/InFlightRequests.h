#pragma once
// InFlightRequests: a node whose requests may wait for something outside the process (an NBD
// node waiting for its server to come back) and can be told to give up (QEMU's
// bdrv_cancel_in_flight). A job cancelled with force tells its target so, when the target is one.
namespace e2kvm::block {

class InFlightRequests {
public:
    virtual ~InFlightRequests() = default;
    // From any thread: requests that wait give up now (they fail).
    virtual void cancelInFlight() = 0;
};

} // namespace e2kvm::block
