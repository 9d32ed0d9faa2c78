using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SrMobile.Contracts;
using SrMobile.Engine;

namespace SrMobile.Cli.Commands;

/// <summary><c>srmobile device token create | list | revoke</c>: the join tokens of a running cluster's device agents.</summary>
public static class DeviceCommand
{

    public static Command Create(CliConsole console)
    {
        var token = new Command("token", "Join tokens with which device agents (boards) join the cluster for one device key; stored hashed.");
        token.Subcommands.Add(CreateToken(console));
        token.Subcommands.Add(ListTokens(console));
        token.Subcommands.Add(RevokeToken(console));
        return new Command("device", "The cluster's device agents.") { List(console), Release(console), token };
    }

    private static Command List(CliConsole console)
    {
        var target = SearchCommand.Target.Create();
        var json = new Option<bool>("--json");
        var command = new Command("list", "Device workers the cluster knows: key, health (online, busy, stale, offline, quarantined), facts, last heartbeat, jobs.") { json };
        target.AddTo(command);
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => target.Run(parse, cancellation, async service =>
        {
            var devices = (await service.Devices(cancellation)).Workers;
            if (parse.GetValue(json))
            {
                console.Out.WriteLine(JsonSerializer.Serialize(devices.Select(d => new
                {
                    device = d.Registration.DeviceKey, worker = d.Registration.WorkerId, engine = d.Registration.Engine, facts = d.Registration.Environment,
                    health = d.Health.ToString().ToLowerInvariant(), online = d.Online, registered_utc = d.RegisteredUtc, last_seen_utc = d.LastSeenUtc,
                    token = d.TokenId, jobs_done = d.JobsDone, jobs_failed = d.JobsFailed, failures_in_a_row = d.ConsecutiveFailures,
                    quarantine = d.Quarantine, current_job = d.CurrentJob,
                    canary = d.Canary is { } c ? new
                    {
                        signature = c.Signature, baseline_ms = c.BaselineMs, baseline_utc = c.BaselineUtc, median_ms = c.MedianMs, cov = c.Cov,
                        measured_utc = c.MeasuredUtc, drift = c.Drift, flagged = c.Flagged,
                    } : null,
                }), SrMobileCommand.Json));
                return 0;
            }
            foreach (var d in devices)
            {
                var facts = d.Registration.Environment;
                var emulated = facts.GetValueOrDefault("emulated") == "true" ? ", emulated" : "";
                console.Out.WriteLine($"{d.Registration.DeviceKey,-16} {d.Registration.WorkerId,-28} {d.Health.ToString().ToLowerInvariant(),-11} " +
                    $"{facts.GetValueOrDefault("cpu_model", facts.GetValueOrDefault("architecture", "?"))} ({facts.GetValueOrDefault("architecture", "?")}{emulated}), {d.Registration.Engine}, " +
                    $"{d.JobsDone} done, {d.JobsFailed} failed, {Drift(d.Canary)}, last seen {d.LastSeenUtc:u}{(d.Quarantine is { } why ? $"\n    quarantined: {why} (srmobile device release {d.Registration.WorkerId})" : "")}");
            }
            if (devices.Count == 0)
                console.Out.WriteLine("no device workers have registered");
            return 0;
        })));
        return command;
    }

    /// <summary>The canary's drift as the list shows it: "canary 41.20 ms, drift +6.1 % (flagged)".</summary>
    internal static string Drift(CanaryReading? canary) => canary is null ? "no canary yet"
        : FormattableString.Invariant($"canary {canary.MedianMs:F2} ms, drift {canary.Drift:+0.0 %;-0.0 %}{(canary.Flagged ? " (flagged)" : "")}");

    private static Command Release(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The worker's name (device list)" };
        var cluster = SearchCommand.ClusterOption();
        var command = new Command("release", "Lift a worker's quarantine: it leases again.") { name, cluster };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => SearchCommand.WithCluster(parse.GetValue(cluster)!, cancellation, async grains =>
        {
            if (!await grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).Release(parse.GetValue(name)!))
                throw new BadInputException($"no device worker named '{parse.GetValue(name)}' on this cluster (device list shows them)");
            console.Out.WriteLine($"{parse.GetValue(name)} released: it leases again");
            return 0;
        })));
        return command;
    }

    private static Command CreateToken(CliConsole console)
    {
        var key = new Option<string>("--key") { Description = "The device key the agent measures for, e.g. pixel-8", Required = true };
        var expires = new Option<string?>("--expires") { Description = "Lifetime: 30d, 12h or 90m (default: until revoked)" };
        var cluster = SearchCommand.ClusterOption();
        var json = new Option<bool>("--json");
        var command = new Command("create", "Issue a token; its secret is printed once and never stored.") { key, expires, cluster, json };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () =>
        {
            var deviceKey = parse.GetValue(key)!.Trim();
            if (deviceKey.Length == 0)
                throw new BadInputException("--key must name a device key, e.g. pixel-8");
            var lifetime = parse.GetValue(expires) is { } text ? Lifetime(text) : (TimeSpan?)null;
            return SearchCommand.WithCluster(parse.GetValue(cluster)!, cancellation, async grains =>
            {
                var issued = await grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key).Create(deviceKey, lifetime);
                console.Out.WriteLine(parse.GetValue(json)
                    ? JsonSerializer.Serialize(new { issued.Token.Id, device_key = issued.Token.DeviceKey, expires_utc = issued.Token.ExpiresUtc, secret = issued.Secret }, SrMobileCommand.Json)
                    : $"token {issued.Token.Id} for device key '{issued.Token.DeviceKey}'{(issued.Token.ExpiresUtc is { } at ? $", expires {at:u}" : "")}:\n{issued.Secret}\n(shown once: the cluster keeps only its hash)");
                return 0;
            });
        }));
        return command;
    }

    private static Command ListTokens(CliConsole console)
    {
        var cluster = SearchCommand.ClusterOption();
        var json = new Option<bool>("--json");
        var command = new Command("list", "Every token: id, device key, created, expires, revoked (never the secret).") { cluster, json };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => SearchCommand.WithCluster(parse.GetValue(cluster)!, cancellation, async grains =>
        {
            var tokens = await grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key).List();
            var now = DateTimeOffset.UtcNow;
            if (parse.GetValue(json))
            {
                console.Out.WriteLine(JsonSerializer.Serialize(tokens.Select(t => new { t.Id, device_key = t.DeviceKey, created_utc = t.CreatedUtc, expires_utc = t.ExpiresUtc, revoked_utc = t.RevokedUtc, live = t.LiveAt(now) }), SrMobileCommand.Json));
                return 0;
            }
            foreach (var t in tokens)
                console.Out.WriteLine($"{t.Id}  {t.DeviceKey,-16} created {t.CreatedUtc:u}  {(t.RevokedUtc is { } r ? $"revoked {r:u}" : t.LiveAt(now) ? t.ExpiresUtc is { } e ? $"expires {e:u}" : "no expiry" : $"expired {t.ExpiresUtc:u}")}");
            if (tokens.Count == 0)
                console.Out.WriteLine("no device tokens; srmobile device token create --key KEY");
            return 0;
        })));
        return command;
    }

    private static Command RevokeToken(CliConsole console)
    {
        var id = new Argument<string>("id") { Description = "The token's id (device token list)" };
        var cluster = SearchCommand.ClusterOption();
        var command = new Command("revoke", "Revoke a token: an agent using it is refused from its next call.") { id, cluster };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => SearchCommand.WithCluster(parse.GetValue(cluster)!, cancellation, async grains =>
        {
            if (!await grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key).Revoke(parse.GetValue(id)!))
                throw new BadInputException($"no device token with id '{parse.GetValue(id)}' on this cluster (device token list shows them)");
            console.Out.WriteLine($"token {parse.GetValue(id)} revoked");
            return 0;
        })));
        return command;
    }

    /// <summary>A lifetime of whole days, hours or minutes: <c>30d</c>, <c>12h</c>, <c>90m</c>.</summary>
    internal static TimeSpan Lifetime(string text)
    {
        var value = text.Trim();
        if (value.Length >= 2 && int.TryParse(value[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0)
        {
            switch (value[^1])
            {
                case 'd': return TimeSpan.FromDays(count);
                case 'h': return TimeSpan.FromHours(count);
                case 'm': return TimeSpan.FromMinutes(count);
            }
        }
        throw new BadInputException($"--expires must be a positive whole number of days, hours or minutes (30d, 12h, 90m), not '{text}'");
    }
}
