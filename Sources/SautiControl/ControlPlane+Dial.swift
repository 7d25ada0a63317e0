// The dial verb's calls on the control side: child calls placed through the signalling
// webhook (`dial`, `cancel`, `hangup`; retried and ordered per call as
// ControlPlane+Signalling.swift says), the registrar's signals on them checked and handed
// to the dialing flow.

import Foundation
import SautiFlow
import SautiMedia
import SautiWire
import Synchronization

/// The child calls a flow's `dial` waits on, by call id.
final class DialRegistry: Sendable {
    private let calls = Mutex<[String: DialedCall]>([:])

    func add(_ call: DialedCall) { calls.withLock { $0[call.callID] = call } }
    func remove(_ id: String) { _ = calls.withLock { $0.removeValue(forKey: id) } }
    func call(_ id: String) -> DialedCall? { calls.withLock { $0[id] } }
}

extension ControlPlane {
    /// Checks a registrar signal on a child call before anything changes: a signal on a
    /// child call that ended is a 409 (`call_ended`), a second answer a 409
    /// (`already_answered`), an answer without SDP a 422 (`missing_sdp`).
    func checkChildSignal(_ call: CallRecord, kind: String, sdp: String?) throws(ControlError) {
        guard let parent = call.parentCallID else { return }
        if CallStatus.terminal.contains(call.status) {
            throw ControlError(
                409, "call_ended",
                "the call \(call.id) (dialed by \(parent)) is already \(call.status): the signal \(kind) changes nothing"
            )
        }
        guard kind == "answered" else { return }
        if call.status == "in-progress" {
            throw ControlError(
                409, "already_answered", "the call \(call.id) was answered already; a second answer changes nothing")
        }
        guard let sdp, !sdp.isEmpty else {
            throw ControlError(
                422, "missing_sdp", "an answer to a dialed call needs the far end's SDP answer to the engine's offer",
                details: ["/sdp"])
        }
    }

    /// Hands the dialing flow what a signal did to one of its calls.
    func reportToDial(_ callID: String) {
        guard let dialed = dials.call(callID), let record = try? store.call(id: callID) else { return }
        switch record.status {
        case "ringing": dialed.report(.ringing)
        case "in-progress": dialed.report(.answered)
        case let s where CallStatus.terminal.contains(s):
            dials.remove(callID)
            dialed.report(.ended(s))
        default: break
        }
    }

    /// Places a child call of `parentCallID` to `to`: a leg and its SDP offer, a call record
    /// with the parent's id, and the signalling webhook's `dial` request. Nil (with a
    /// `dial.failed` event on the parent) when it cannot be placed.
    func placeChildCall(to: String, callerID: String?, parentCallID: String) async -> DialedCall? {
        func failed(_ why: String) -> DialedCall? {
            try? store.appendEvent(callID: parentCallID, name: "dial.failed", detail: ["to": to, "why": why])
            return nil
        }
        guard let parent = try? store.call(id: parentCallID) else { return failed("the parent call is gone") }
        guard let url = configuration.signallingWebhookURL else {
            return failed("no signalling webhook is configured (--signalling-webhook)")
        }
        let leg: MediaLeg
        var session: SDPSession
        // The caller's codec first: a far end that has it answers with it, and the call is
        // relayed undecoded rather than transcoded.
        let callerCodec = live.withLock { $0[parentCallID] }?.sdp.withLock { $0.media?.codec }
        do {
            (leg, session) = try newLeg(preferring: callerCodec)
        } catch {
            return failed(error.message)
        }
        let offer = session.offer()
        // The number shown to the called party: callerId, else the platform's number on the call.
        let from = callerID ?? parent.localE164
        let call: CallRecord
        do {
            call = try store.createCall(
                numberID: parent.numberID, direction: "outbound", localE164: from, remoteE164: to, pbxCallID: nil,
                parentCallID: parentCallID)
        } catch {
            leg.close()
            return failed("\(error)")
        }
        // The call's signalling turn from its first moment, until the dial is taken or given
        // up: a hangup of it (the API's) waits, and so can never reach the registrar first.
        await signallingTurns.wait(call.id)
        let dialed = DialedCall(callID: call.id, to: to, leg: leg)
        live.withLock { $0[call.id] = LiveCall(id: call.id, leg: leg, numberID: parent.numberID, sdp: session) }
        dials.add(dialed)
        deliverEvent(call.id, numberID: parent.numberID, name: "started", extra: ["parent_call_id": parentCallID])
        var body: [String: Any] = [
            "call_id": call.id, "action": "dial", "parent_call_id": parentCallID, "to": to, "from": from, "sdp": offer,
        ]
        if let pbx = parent.pbxCallID { body["parent_pbx_call_id"] = pbx }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        // Retried while the call is still queued: a signal on it (ringing, answered, busy…)
        // shows that the registrar has the dial, from an attempt whose reply was lost.
        let outcome = await deliverSignalling(callID: call.id, action: "dial", url: url, body: data) {
            (try? self.store.call(id: call.id))?.status == "queued"
        }
        // The registrar never took it: the call failed before it rang — unless it reported
        // on the call after all (it had an attempt whose reply never came).
        if case .failed(let why, _) = outcome,
            (try? store.transition(callID: call.id, to: "failed", cause: "signalling: \(why)", onlyFrom: ["queued"]))
                != nil
        {
            dials.remove(call.id)
            end(call.id, numberID: parent.numberID)
            dialed.report(.ended("failed"))
        }
        signallingTurns.done(call.id)
        return dialed
    }

    /// Gives up on a child call not answered: `cancel` to the registrar, the status set
    /// (`canceled` or `no-answer`), the leg closed. One answered meanwhile is hung up.
    func cancelChildCall(_ dialed: DialedCall, status: String) async {
        dials.remove(dialed.callID)
        guard let c = try? store.call(id: dialed.callID), !CallStatus.terminal.contains(c.status) else { return }
        if c.status == "in-progress" {
            await hangupChildCall(dialed)
            return
        }
        await requestSignalling(callID: dialed.callID, action: "cancel", extra: ["reason": status])
        try? store.transition(callID: dialed.callID, to: status, cause: "dial-\(status)")
        end(dialed.callID, numberID: c.numberID)
    }

    /// Ends an answered child call: `hangup` to the registrar, `completed`, the leg closed.
    func hangupChildCall(_ dialed: DialedCall) async {
        dials.remove(dialed.callID)
        guard let c = try? store.call(id: dialed.callID), !CallStatus.terminal.contains(c.status) else { return }
        await requestSignalling(callID: dialed.callID, action: "hangup", extra: [:])
        try? store.transition(
            callID: dialed.callID, to: c.status == "in-progress" ? "completed" : "canceled", cause: "engine-hangup")
        end(dialed.callID, numberID: c.numberID)
    }
}

extension EngineSignalling: CallDialer {
    func placeCall(to: String, callerID: String?, parentCallID: String) async -> DialedCall? {
        await control.placeChildCall(to: to, callerID: callerID, parentCallID: parentCallID)
    }

    func cancel(_ call: DialedCall, status: String) async {
        await control.cancelChildCall(call, status: status)
    }

    func hangup(_ call: DialedCall) async {
        await control.hangupChildCall(call)
    }
}
