using System.Net;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Orleans.Configuration;
using SrMobile.Artifacts;
using SrMobile.Cluster;
using SrMobile.Contracts.Telemetry;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;
using SrMobile.Workers;

namespace SrMobile.Agents;

/// <summary>
/// A device agent's settings (configuration section <c>SrMobile:Agent</c>, or the switches of
/// <see cref="AgentHostingExtensions.Switches"/>; <c>SrMobile__Agent__Token</c> in the environment keeps the token off
/// the command line).
/// </summary>
public sealed class AgentOptions
{
    public const string Section = "SrMobile:Agent";

    /// <summary>
    /// <c>client</c> (default): an Orleans client of <see cref="Cluster"/>'s gateway, outbound only, no storage
    /// credential (a board on a lab network). <c>silo</c>: a silo with the device role only, which finds the cluster in
    /// its membership table (<c>SrMobile:Storage</c> of the azure kind; a Kubernetes DaemonSet on arm64 nodes). It
    /// hosts none of the coordinator's grains and, without a token, issues itself a member token as every silo does.
    /// </summary>
    public string Mode { get; set; } = ClientMode;

    public const string ClientMode = "client";
    public const string SiloMode = "silo";

    public bool IsSilo => string.Equals(Mode?.Trim(), SiloMode, StringComparison.OrdinalIgnoreCase);

    /// <summary>The gateway, <c>host:port</c> (a coordinator's <c>SrMobile:GatewayPort</c>, 30000 by default); client mode only.</summary>
    public string? Cluster { get; set; }

    /// <summary>The join token (<c>srmobile device token create --key KEY</c>).</summary>
    public string? Token { get; set; }

    /// <summary>The device key; empty takes the token's (given, it must be the token's).</summary>
    public string? Key { get; set; }

    /// <summary>This agent's name in the cluster, held by its token (default: the host name).</summary>
    public string Name { get; set; } = Environment.MachineName;

    /// <summary>Where fetched models and validation images are kept.</summary>
    public string WorkFolder { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".srmobile-agent");

    /// <summary>The agent runs under emulation (qemu-user): its facts say so, so its numbers are never taken for a board's.</summary>
    public bool Emulated { get; set; }

    /// <summary>Every problem of these settings, each naming its switch.</summary>
    public IEnumerable<string> Problems(IConfiguration configuration)
    {
        if (!IsSilo && !string.Equals(Mode?.Trim(), ClientMode, StringComparison.OrdinalIgnoreCase))
            yield return $"--mode must be {ClientMode} or {SiloMode}, not '{Mode}'";
        if (IsSilo)
        {
            if (!StorageSettings.From(configuration).IsAzure)
                yield return "--mode silo finds the cluster in its membership table: set SrMobile:Storage:Kind to azure and SrMobile:Storage:ConnectionString (the cluster's storage account)";
        }
        else if (string.IsNullOrWhiteSpace(Cluster))
            yield return "--cluster host:port is required (the gateway of the coordinator, e.g. 10.0.0.5:30000)";
        else if (Gateway(Cluster) is null)
            yield return $"--cluster must be host:port with an IP address or localhost, e.g. 10.0.0.5:30000, not '{Cluster}'";
        if (!IsSilo && string.IsNullOrWhiteSpace(Token))
            yield return "--token is required (srmobile device token create --key KEY prints one), or SrMobile__Agent__Token in the environment";
        if (string.IsNullOrWhiteSpace(Name))
            yield return "--name must not be empty";
    }

    public static IPEndPoint? Gateway(string text)
    {
        var parts = text.Trim().Split(':');
        return parts.Length == 2 && IPAddress.TryParse(parts[0] == "localhost" ? "127.0.0.1" : parts[0], out var address)
            && int.TryParse(parts[1], out var port) && port is > 0 and < 65536
            ? new IPEndPoint(address, port)
            : null;
    }
}

public static class AgentHostingExtensions
{
    /// <summary>The agent's command line: <c>srmobile-agent --cluster host:port --token TOKEN [--key KEY] [--name NAME]</c>.</summary>
    public static readonly IReadOnlyDictionary<string, string> Switches = new Dictionary<string, string>
    {
        ["--mode"] = $"{AgentOptions.Section}:Mode",
        ["--cluster"] = $"{AgentOptions.Section}:Cluster",
        ["--token"] = $"{AgentOptions.Section}:Token",
        ["--key"] = $"{AgentOptions.Section}:Key",
        ["--name"] = $"{AgentOptions.Section}:Name",
        ["--work"] = $"{AgentOptions.Section}:WorkFolder",
        ["--emulated"] = $"{AgentOptions.Section}:Emulated",
        ["--http-port"] = "SrMobile:Http:Port",
        ["--activations"] = "SrMobile:Device:Activations",
    };

    public const int DefaultHttpPort = 9464;

    /// <summary>
    /// The agent: in client mode an Orleans client of the gateway (outbound only, no storage credential; models and
    /// validation images read through the cluster under its session), in silo mode a device-role silo of the cluster
    /// (<see cref="AgentOptions.Mode"/>); either way the device worker measuring with the int8 engine in a child process,
    /// and <c>/metrics</c> and <c>/healthz/live</c> on <c>SrMobile:Http</c> (127.0.0.1:9464). False, with every problem
    /// written to <paramref name="errors"/>, when the settings are not usable.
    /// </summary>
    public static bool AddSrMobileAgent(this WebApplicationBuilder builder, string[] args, TextWriter errors)
    {
        var configuration = builder.Configuration;
        configuration.AddCommandLine(args, Switches.ToDictionary());
        var agent = configuration.GetSection(AgentOptions.Section).Get<AgentOptions>() ?? new AgentOptions();
        var problems = agent.Problems(configuration).ToList();
        if (problems.Count > 0)
        {
            foreach (var problem in problems)
                errors.WriteLine($"srmobile-agent: {problem}");
            errors.WriteLine("usage: srmobile-agent [--mode client] --cluster host:port --token TOKEN | --mode silo [--token TOKEN]; [--key KEY] [--name NAME] [--work DIR] [--emulated true] [--activations uint8|int8] [--http-port 9464]");
            return false;
        }
        var services = builder.Services;
        if (agent.IsSilo)
        {
            // The device role only, and no gateway: clients reach the cluster through the coordinators.
            configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["SrMobile:Roles:0"] = SiloRoles.Device,
                ["SrMobile:GatewayPort"] = configuration["SrMobile:GatewayPort"] ?? "0",
            });
            builder.AddSrMobileCluster();
        }
        else
        {
            var clusterId = configuration["SrMobile:ClusterId"] is { Length: > 0 } id ? id : ClusterHostingExtensions.DefaultClusterId;
            var serviceId = configuration["SrMobile:ServiceId"] is { Length: > 0 } service ? service : ClusterHostingExtensions.DefaultServiceId;
            builder.AddSrMobileShutdownTimeout();
            builder.UseOrleansClient(client => client
                .UseStaticClustering(AgentOptions.Gateway(agent.Cluster!)!)
                // A gateway with TLS on (deploy/k8s) takes only clients with a certificate of the cluster's CA.
                .UseSrMobileTls(configuration)
                .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, serviceId))
                // A board outlives its coordinator's restarts: it keeps trying, saying so.
                .UseConnectionRetryFilter(async (exception, cancellation) =>
                {
                    errors.WriteLine($"srmobile-agent: no gateway at {agent.Cluster} ({exception.Message}); retrying in 5 s");
                    await Task.Delay(TimeSpan.FromSeconds(5), cancellation);
                    return true;
                }));
            services.AddSingleton<IArtifactStore, ClusterArtifactStore>();
            services.AddSrMobileDeviceWorker(configuration);
        }
        services.PostConfigure<DeviceOptions>(o =>
        {
            // Without a token (a silo's member token) the key is given, or this machine's derived key.
            o.Key = agent.Key?.Trim() is { Length: > 0 } key ? key : agent.IsSilo && string.IsNullOrWhiteSpace(agent.Token) ? DeviceFacts.Detect(agent.Emulated)["derived_key"] : "";
            o.Token = string.IsNullOrWhiteSpace(agent.Token) ? null : agent.Token.Trim();
            o.WorkerId = agent.Name.Trim();
            o.ArtifactFolder = Path.Combine(agent.WorkFolder, "artifacts");
            o.Emulated = agent.Emulated;
            o.ExitWhenRefused = true;
            // Every measurement in a child process of this program, unless configured otherwise (a pinning prefix, an emulator).
            if (o.EngineLauncher is not { Length: > 0 })
                o.EngineLauncher = SelfLauncher();
        });

        var port = configuration.GetValue("SrMobile:Http:Port", DefaultHttpPort);
        var address = IPAddress.TryParse(configuration["SrMobile:Http:Address"] ?? "127.0.0.1", out var parsed) ? parsed : IPAddress.Loopback;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, port));
        services.AddHealthChecks();
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("srmobile-agent", serviceInstanceId: agent.Name))
            .WithMetrics(metrics => metrics
                .AddMeter(SrMobileMetrics.MeterName, "Microsoft.Orleans")
                .AddRuntimeInstrumentation()
                .AddProcessInstrumentation()
                .AddPrometheusExporter());
        return true;
    }

    /// <summary>This program as a command: its apphost, or <c>dotnet srmobile-agent.dll</c> when run through dotnet.</summary>
    private static string[] SelfLauncher()
    {
        var process = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, Path.Combine(AppContext.BaseDirectory, "srmobile-agent.dll")]
            : [process];
    }

    public static WebApplication MapSrMobileAgent(this WebApplication app)
    {
        app.MapHealthChecks("/healthz/live");
        app.MapPrometheusScrapingEndpoint();
        var options = app.Services.GetRequiredService<IOptions<DeviceOptions>>().Value;
        app.Logger.LogInformation("srmobile-agent {Name}: joining {Cluster} (metrics on {Urls})", options.WorkerId, app.Configuration[$"{AgentOptions.Section}:Cluster"], string.Join(", ", app.Urls));
        return app;
    }
}
