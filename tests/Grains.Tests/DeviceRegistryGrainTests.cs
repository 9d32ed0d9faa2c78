using SrMobile.Contracts;

namespace SrMobile.Grains.Tests;

public class DeviceRegistryGrainTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private IDeviceRegistryGrain Registry => fixture.Grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key);

    private IDeviceTokensGrain Tokens => fixture.Grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key);

    private static DeviceRegistration Board(string worker, string key = "rk3588") =>
        new(key, worker, "onnxruntime 1.23", new Dictionary<string, string> { ["architecture"] = "Arm64" });

    private static string Unique(string name) => $"{name}-{Guid.NewGuid():N}";

    private async Task<string> Token(string key) => (await Tokens.Create(key, null)).Secret;

    [Fact]
    public async Task Joined_workers_are_listed_online_until_their_heartbeats_stop()
    {
        var (one, two) = (Unique("board-1"), Unique("board-2"));
        var first = await Registry.Join(Board(one, "rk3588-online"), await Token("rk3588-online"));
        var second = await Registry.Join(Board(two, "pixel7-online"), await Token("pixel7-online"));
        Assert.True(first.Live && second.Live);
        Assert.False((await Registry.Heartbeat(Guid.NewGuid())).Live);

        var listed = (await Registry.List()).Where(d => d.Registration.WorkerId == one || d.Registration.WorkerId == two).ToList();
        // By device key, then worker.
        Assert.Equal([two, one], listed.Select(d => d.Registration.WorkerId));
        Assert.All(listed, d => Assert.True(d.Online));
        Assert.Equal("Arm64", listed[0].Registration.Environment["architecture"]);
        Assert.Equal(second.Session!.TokenId, listed[0].TokenId);

        // board-1 keeps beating, board-2 goes silent (offline after 3 s: a loaded CI machine may stall a beat for a second).
        var until = DateTime.UtcNow + ClusterFixture.DeviceOfflineAfter * 1.5;
        while (DateTime.UtcNow < until)
        {
            Assert.True((await Registry.Heartbeat(first.Session!.Id)).Live);
            await Task.Delay(200);
        }
        Assert.True((await Registry.Heartbeat(first.Session!.Id)).Live);
        var later = await Registry.List();
        Assert.True(later.Single(d => d.Registration.WorkerId == one).Online);
        Assert.False(later.Single(d => d.Registration.WorkerId == two).Online);
    }

    [Fact]
    public async Task A_worker_without_a_device_key_takes_its_tokens_and_a_rejoin_keeps_when_it_first_came()
    {
        var name = Unique("board");
        var token = await Token("rk3588-keyless");
        var first = await Registry.Join(Board(name, ""), token);
        Assert.Equal("rk3588-keyless", first.Session!.DeviceKey);
        var registered = (await Registry.List()).Single(d => d.Registration.WorkerId == name).RegisteredUtc;

        // The same agent again (restarted, a new engine): a new session, the old one gone.
        var again = await Registry.Join(Board(name, "") with { Engine = "onnxruntime 1.24" }, token);
        Assert.True(again.Live);
        Assert.NotEqual(first.Session.Id, again.Session!.Id);
        Assert.Contains("unknown", (await Registry.Check(first.Session.Id)).Refusal);
        var view = (await Registry.List()).Single(d => d.Registration.WorkerId == name);
        Assert.Equal("onnxruntime 1.24", view.Registration.Engine);
        Assert.Equal(registered, view.RegisteredUtc);
    }

    [Fact]
    public async Task Unknown_revoked_and_expired_tokens_and_another_key_are_refused_saying_why()
    {
        Assert.Contains("not one this cluster issued", (await Registry.Join(Board(Unique("b")), "srmd_000000000000_forged")).Refusal);

        var issued = await Tokens.Create("rk3588", null);
        await Tokens.Revoke(issued.Token.Id);
        Assert.Contains($"token {issued.Token.Id} was revoked", (await Registry.Join(Board(Unique("b")), issued.Secret)).Refusal);

        var brief = await Tokens.Create("rk3588", TimeSpan.FromMilliseconds(200));
        await Task.Delay(400);
        Assert.Contains("expired", (await Registry.Join(Board(Unique("b")), brief.Secret)).Refusal);

        var other = await Registry.Join(Board(Unique("b"), "pixel7"), await Token("rk3588"));
        Assert.Contains("is for device key 'rk3588', not 'pixel7'", other.Refusal);
    }

    [Fact]
    public async Task A_name_is_held_by_one_live_token_and_a_revoked_token_ends_its_session_at_the_next_call()
    {
        var name = Unique("lab-board");
        var owner = await Tokens.Create("rk3588", null);
        var joined = await Registry.Join(Board(name), owner.Secret);
        Assert.True(joined.Live);

        var intruder = await Registry.Join(Board(name), await Token("rk3588"));
        Assert.Contains($"held by another agent's token {owner.Token.Id}", intruder.Refusal);
        Assert.True((await Registry.Check(joined.Session!.Id)).Live);

        await Tokens.Revoke(owner.Token.Id);
        var check = await Registry.Heartbeat(joined.Session.Id);
        Assert.False(check.Live);
        Assert.Contains("revoked", check.Refusal);
        // Once its holder's token is revoked, the name is free for another token.
        Assert.True((await Registry.Join(Board(name), await Token("rk3588"))).Live);
    }

    [Fact]
    public async Task A_worker_without_a_name_is_refused_by_name()
    {
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => Registry.Join(Board(" "), "srmd_x_y"));
        Assert.Contains("name", error.Message);
    }

    [Fact]
    public async Task A_device_pool_leases_and_takes_reports_only_under_a_live_session_of_its_key()
    {
        var key = Unique("tv");
        var queue = fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(key));
        await queue.Enqueue(new WorkItem("job-1", 0, "candidate-that-does-not-exist"));

        var none = await Assert.ThrowsAsync<DeviceSessionRefusedException>(() => queue.Lease("anyone"));
        Assert.Contains("no device session", none.Message);
        var unknown = await Assert.ThrowsAsync<DeviceSessionRefusedException>(() => queue.Lease("anyone", Guid.NewGuid()));
        Assert.Contains("unknown", unknown.Message);
        var elsewhere = await Registry.Join(Board(Unique("other"), "rk3588"), await Token("rk3588"));
        var wrongKey = await Assert.ThrowsAsync<DeviceSessionRefusedException>(() => queue.Lease("other", elsewhere.Session!.Id));
        Assert.Contains("for device key 'rk3588'", wrongKey.Message);
        Assert.Equal(JobStatus.Queued, (await queue.Get("job-1"))!.Status);

        var token = await Tokens.Create(key, null);
        var session = (await Registry.Join(Board(Unique("tv-board"), key), token.Secret)).Session!;
        var lease = (await queue.Lease("tv-board", session.Id))!;
        Assert.True((await queue.Renew(lease.LeaseId, new JobProgress("measuring", 0, 0, null))).Accepted);

        await Tokens.Revoke(token.Token.Id);
        var renew = await queue.Renew(lease.LeaseId, new JobProgress("measuring", 0, 0, null));
        Assert.False(renew.Accepted);
        Assert.Contains("revoked", renew.Reason);
        var report = await queue.Complete(lease.LeaseId, "12 ms");
        Assert.False(report.Accepted);
        Assert.Contains("revoked", report.Reason);
        // Handing the job back needs no session: it is queued again for someone else.
        Assert.True((await queue.Release(lease.LeaseId, "stopping")).Accepted);
        Assert.Equal(JobStatus.Queued, (await queue.Get("job-1"))!.Status);
    }

    [Fact]
    public async Task Failed_measurements_in_a_row_quarantine_a_worker_until_it_is_released()
    {
        var key = Unique("board-key");
        var name = Unique("flaky");
        var queue = fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(key));
        var session = (await Registry.Join(Board(name, key), await Token(key))).Session!;
        for (var i = 0; i < 4; i++)
            await queue.Enqueue(new WorkItem($"job-{i}", 0, "candidate-that-does-not-exist"));

        var measuring = (await queue.Lease(name, session.Id))!;
        await Eventually(async () => (await View(name, session)).Health == DeviceHealth.Busy, "busy while it measures");
        Assert.Equal(measuring.JobId, (await View(name, session)).CurrentJob);
        Assert.True((await queue.Complete(measuring.LeaseId, "12 ms")).Accepted);
        for (var i = 0; i < 3; i++)
        {
            var lease = (await queue.Lease(name, session.Id))!;
            Assert.True((await queue.Fail(lease.LeaseId, $"the engine was killed by signal 9 ({i})", retry: true)).Accepted);
        }
        await Eventually(async () => (await View(name, session)).Health == DeviceHealth.Quarantined, "quarantined after 3 failures in a row");
        var view = await View(name, session);
        Assert.Equal((1, 3), (view.JobsDone, view.JobsFailed));
        Assert.Contains("3 measurements failed in a row", view.Quarantine);
        Assert.Contains("signal 9 (2)", view.Quarantine);
        // The queue itself gives a quarantined worker nothing, whatever the worker does.
        Assert.Null(await queue.Lease(name, session.Id));
        Assert.False(await Registry.Release("no-such-worker"));

        Assert.True(await Registry.Release(name));
        Assert.Equal(DeviceHealth.Online, (await View(name, session)).Health);
        Assert.NotNull(await queue.Lease(name, session.Id));
    }

    [Fact]
    public async Task A_canary_drifts_from_the_first_run_of_its_signature_and_the_baseline_outlives_a_rejoin()
    {
        var key = Unique("board-key");
        var name = Unique("canary");
        var token = await Token(key);
        var session = (await Registry.Join(Board(name, key), token)).Session!;
        var first = await Registry.Canary(session.Id, new CanaryRun("abpn int8 180x320", 40, 0.01));
        Assert.Equal((40, 40, 0.0, false), (first.BaselineMs, first.MedianMs, first.Drift, first.Flagged));

        var within = await Registry.Canary(session.Id, new CanaryRun("abpn int8 180x320", 41.6, 0.02));
        Assert.Equal(0.04, within.Drift, 9);
        Assert.False(within.Flagged);
        var drifted = await Registry.Canary(session.Id, new CanaryRun("abpn int8 180x320", 44, 0.02));
        Assert.Equal((40, 0.1, true), (drifted.BaselineMs, Math.Round(drifted.Drift, 9), drifted.Flagged));
        Assert.Equal(drifted, (await View(name, session)).Canary);

        // A restarted agent joins again: its drift is still from the device's first run.
        var again = (await Registry.Join(Board(name, key), token)).Session!;
        Assert.Equal(40, (await Registry.Canary(again.Id, new CanaryRun("abpn int8 180x320", 38, 0.01))).BaselineMs);
        // Another protocol or engine is another signature: a new baseline.
        var other = await Registry.Canary(again.Id, new CanaryRun("abpn int8 90x160", 10, 0.01));
        Assert.Equal((10, 0.0), (other.BaselineMs, other.Drift));

        await Assert.ThrowsAsync<DeviceSessionRefusedException>(() => Registry.Canary(session.Id, new CanaryRun("abpn int8 180x320", 40, 0.01)));
        await Assert.ThrowsAsync<ArgumentException>(() => Registry.Canary(again.Id, new CanaryRun("abpn int8 180x320", double.NaN, 0.01)));
    }

    /// <summary>The worker's row, right after a heartbeat (this fixture's workers go offline after 3 s).</summary>
    private async Task<DeviceWorkerView> View(string name, DeviceSession session)
    {
        await Registry.Heartbeat(session.Id);
        return (await Registry.List()).Single(d => d.Registration.WorkerId == name);
    }

    /// <summary>The queue tells the registry one-way: what it says shows a moment later.</summary>
    private static async Task Eventually(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not {what} within 10 s");
            await Task.Delay(50);
        }
    }
}
