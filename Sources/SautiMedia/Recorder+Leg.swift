// The Record verb on a leg: the control side's API, and the worker side that attaches a
// recording to the leg.

extension MediaLeg {
    /// Starts recording as `spec` asks, at the next frame boundary; a recording already
    /// running on the leg ends first (`.stopped`). The outcome comes as
    /// `.recordingFinished` on `events`, once the file is final (closed and fsynced) —
    /// also when the leg closes first (`.hangup`, before `.closed`) and when the file
    /// cannot be created (`.error`, at once; the leg goes on). On a closed leg, nothing
    /// happens.
    public func record(_ spec: RecordingSpec) {
        let io = self.io
        onWorker { leg in leg.startRecording(spec, io: io) }
    }

    /// Ends the running recording (`.stopped`); nothing happens if none runs.
    public func stopRecording() {
        onWorker { leg in leg.endRecording(.stopped) }
    }
}

extension Leg {
    /// Attaches a recording; its writer becomes a periodic job of `io`. On the worker.
    func startRecording(_ spec: RecordingSpec, io: MediaIOThread) {
        endRecording(.stopped)
        let reports = recordingReports ?? RecordingReports(events: events)
        recordingReports = reports
        guard reports.begin() else { return }
        let rate = configuration.sampleRate
        let channels = spec.channels == .both ? 2 : 1
        // Two seconds of ticks: twenty drain intervals of slack for a slow disk.
        let ring = SampleRing(minimumCapacity: frameSamples * channels * 100)
        let link = RecordingLink(ring: ring, reports: reports)
        recorder = Recorder(spec, frameSamples: frameSamples, sampleRate: rate, link: link)
        let writer = RecordingWriter(spec, frameSamples: frameSamples, sampleRate: rate, link: link)
        io.every { writer.service() }
    }

    /// Ends the running recording, if any, for `reason`.
    func endRecording(_ reason: RecordingEnd) {
        guard let r = recorder else { return }
        recorder = nil
        r.finish(reason)
    }

    /// The leg closes: a running recording ends as a hangup. True when `.closed` is left to
    /// the last recording's report (it comes after its outcome); false when the leg yields it.
    func closeRecordings() -> Bool {
        endRecording(.hangup)
        return recordingReports?.legClosing() ?? false
    }
}
