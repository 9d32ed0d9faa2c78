using System.Diagnostics.Metrics;
using System.Net;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using SrMobile.Artifacts;
using SrMobile.Contracts.Telemetry;
using SrMobile.Engine.Imaging;
using SrMobile.Grains;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;
using SrMobile.Workers;

namespace SrMobile.Cluster;

/// <summary>
/// The SrMobile silo without the trainer (which needs TorchSharp): clustering, grain storage, role placement, the
/// coordinator's grains and the device role. <c>src/Hosting</c> adds the trainer and the web host; the device agent's
/// silo mode uses this alone.
/// </summary>
public static class ClusterHostingExtensions
{
    /// <summary>The ids a silo has unless <c>SrMobile:ClusterId</c> / <c>SrMobile:ServiceId</c> say otherwise (clients must match).</summary>
    public const string DefaultClusterId = "srmobile";
    public const string DefaultServiceId = "srmobile";

    /// <summary>
    /// The SrMobile silo from configuration: <c>SrMobile:Roles</c> (coordinator, trainer, device; default all),
    /// <c>SrMobile:DataFolder</c> (durable grain state of the local storage kind; default .srmobile/state),
    /// <c>SrMobile:SiloPort</c> 11111, <c>SrMobile:GatewayPort</c> 30000 (<c>srmobile search … --cluster 127.0.0.1:30000</c>),
    /// <c>SrMobile:ClusterId</c> and <c>SrMobile:ServiceId</c> (default <c>srmobile</c>; grain state belongs to the service),
    /// and the storage kind (<see cref="StorageSettings"/>, <c>SrMobile:Storage:*</c>): localhost clustering for
    /// <c>local</c>, Azure Table clustering for <c>azure</c>, where the silo listens on and advertises
    /// <c>SrMobile:AdvertisedAddress</c> (default 127.0.0.1; set it to this machine's address for a multi-machine cluster).
    /// </summary>
    public static IHostApplicationBuilder AddSrMobileCluster(this IHostApplicationBuilder builder, Action<ISiloBuilder, IReadOnlyCollection<string>>? addRoles = null)
    {
        var configuration = builder.Configuration;
        var roles = Roles(configuration);
        var dataFolder = DataFolder(configuration);
        var siloPort = configuration.GetValue("SrMobile:SiloPort", 11111);
        var gatewayPort = configuration.GetValue("SrMobile:GatewayPort", 30000);
        var clusterId = NonEmpty(configuration, "SrMobile:ClusterId") ?? DefaultClusterId;
        var serviceId = NonEmpty(configuration, "SrMobile:ServiceId") ?? DefaultServiceId;
        var storage = StorageSettings.From(configuration);
        builder.AddSrMobileShutdownTimeout();
        builder.UseOrleans(silo =>
        {
            if (storage.IsAzure)
            {
                var address = NonEmpty(configuration, "SrMobile:AdvertisedAddress") ?? "127.0.0.1";
                if (!IPAddress.TryParse(address, out var advertised))
                    throw new InvalidOperationException($"SrMobile:AdvertisedAddress is '{address}': expected an IP address (e.g. 127.0.0.1 or this machine's address)");
                silo.UseSrMobileAzureClustering(storage);
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = clusterId;
                    o.ServiceId = serviceId;
                });
                // Listen on the advertised address only, never on every interface: said explicitly, since Kubernetes
                // hosting would otherwise fill in 0.0.0.0 for the listening endpoints.
                silo.ConfigureEndpoints(advertised, siloPort, gatewayPort, listenOnAnyHostAddress: false);
                silo.Configure<EndpointOptions>(o =>
                {
                    o.SiloListeningEndpoint = new IPEndPoint(advertised, siloPort);
                    o.GatewayListeningEndpoint = gatewayPort > 0 ? new IPEndPoint(advertised, gatewayPort) : null;
                });
                // In a pod (deploy/k8s): Orleans' Kubernetes hosting beside the Azure Table membership.
                if (KubernetesPod.From(configuration) is not null)
                    KubernetesPod.Use(silo, configuration);
            }
            else
            {
                silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: serviceId, clusterId: clusterId);
            }
            silo.UseSrMobileTls(configuration);
            silo.AddSrMobileClusterRoles(configuration, roles, dataFolder);
            addRoles?.Invoke(silo, roles);
        });
        return builder;
    }

    /// <summary>
    /// Grain storage and the artifact store of the storage kind (<see cref="StorageSettings"/>), role placement and the
    /// hosted services of the given roles, for any silo builder (tests too). Clustering is the caller's.
    /// Local artifacts live in <c>SrMobile:Storage:ArtifactFolder</c> (default <paramref name="dataFolder"/>/artifacts).
    /// <c>SrMobile:Simulate</c> = true swaps measuring for <see cref="SimulatedMeasurer"/> (benchmarks of
    /// the cluster itself and cluster tests; never a real result). Limits: <c>SrMobile:Limits:MaxCandidates</c> and
    /// <c>MaxSpecCharacters</c> (<see cref="LimitsOptions"/>), <c>SrMobile:DataRoots</c> (the folders a spec's datasets
    /// may be in; default the working folder) and <c>SrMobile:Limits:MaxImagePixels</c> (<see cref="ImageFile.MaxPixels"/>).
    /// </summary>
    public static ISiloBuilder AddSrMobileClusterRoles(this ISiloBuilder silo, IConfiguration configuration, IReadOnlyCollection<string> roles, string dataFolder)
    {
        var storage = StorageSettings.From(configuration);
        silo.AddSrMobileGrainStorage(storage, dataFolder);
        silo.Services.AddSingleton(ArtifactStore(configuration, dataFolder));
        // Our instruments, labelled with the identity from SrMobile:Metrics (before AddSiloRoles, which only adds a default).
        var metrics = MetricsOptions.From(configuration);
        silo.Services.AddSingleton(services => new SrMobileMetrics(services.GetRequiredService<IMeterFactory>(), metrics.ServiceName, metrics.Instance));
        silo.AddSiloRoles(roles);
        // Orleans caches the address of every grain it has called (up to a million by default), finished candidates
        // included: 40 MB on a 100,000-candidate search. The grains in work at any time are far fewer.
        silo.Configure<GrainDirectoryOptions>(o => o.CacheSize = 10_000);
        silo.Services.Configure<WorkQueueOptions>(configuration.GetSection(WorkQueueOptions.Section));
        silo.Services.Configure<CandidateOptions>(configuration.GetSection(CandidateOptions.Section));
        silo.Services.Configure<SearchOptions>(configuration.GetSection(SearchOptions.Section));
        silo.Services.Configure<DeviceRegistryOptions>(configuration.GetSection(DeviceRegistryOptions.Section));
        silo.Services.Configure<DeviceArtifactOptions>(o => o.CacheFolder = Path.Combine(dataFolder, "device-artifacts"));
        silo.Services.Configure<LimitsOptions>(configuration.GetSection(LimitsOptions.Section));
        silo.Services.Configure<DataRootOptions>(configuration.GetSection(DataRootOptions.Section));
        // Process-wide, as image decoding is: every reader in this process (datasets, calibration, evaluation) is held to it.
        ImageFile.MaxPixels = configuration.GetValue(ImageFile.MaxPixelsKey, ImageFile.DefaultMaxPixels);
        var simulate = configuration.GetValue("SrMobile:Simulate", false);
        if (simulate)
            silo.Services.Configure<SimulatedWorkOptions>(configuration.GetSection(SimulatedWorkOptions.Section));
        // Simulated work has no CPU to share, and runs its loops side by side on purpose.
        if (roles.Contains(SiloRoles.Trainer) && roles.Contains(SiloRoles.Device) && !simulate)
            silo.Services.AddSingleton<MachineGate>();
        if (roles.Contains(SiloRoles.Device))
            silo.Services.AddSrMobileDeviceWorker(configuration);
        return silo;
    }

    /// <summary>
    /// The artifact store of the storage kind: Azure Blob for <c>azure</c>, else the local folder
    /// <c>SrMobile:Storage:ArtifactFolder</c> (default <paramref name="dataFolder"/>/artifacts). A client with the silo's
    /// settings (<c>srmobile search fetch --cluster</c>) reads the same store.
    /// </summary>
    public static IArtifactStore ArtifactStore(IConfiguration configuration, string dataFolder)
    {
        var storage = StorageSettings.From(configuration);
        var artifactFolder = NonEmpty(configuration, $"{StorageSettings.Section}:ArtifactFolder");
        return storage.IsAzure
            ? new BlobArtifactStore(new BlobServiceClient(storage.ConnectionString), localRoot: artifactFolder)
            : new LocalArtifactStore(artifactFolder ?? Path.Combine(dataFolder, "artifacts"));
    }

    /// <summary>
    /// How long a stopping process (SIGTERM, Ctrl-C) may take: <c>SrMobile:ShutdownTimeout</c> (default .NET's 30 s).
    /// Workers hand their leases back first, then the silo leaves membership; a pod's terminationGracePeriodSeconds
    /// must be longer (deploy/k8s sets 60 s and a 90 s grace period).
    /// </summary>
    public static IHostApplicationBuilder AddSrMobileShutdownTimeout(this IHostApplicationBuilder builder)
    {
        if (NonEmpty(builder.Configuration, ShutdownTimeoutKey) is { } text)
        {
            if (!TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var timeout) || timeout <= TimeSpan.Zero)
                throw new InvalidOperationException($"{ShutdownTimeoutKey} is '{text}': expected a positive time span such as 00:01:00");
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = timeout);
        }
        return builder;
    }

    public const string ShutdownTimeoutKey = "SrMobile:ShutdownTimeout";

    /// <summary>The roles of this process: <c>SrMobile:Roles</c> (coordinator, trainer, device; default all).</summary>
    public static IReadOnlyList<string> Roles(IConfiguration configuration) =>
        configuration.GetSection("SrMobile:Roles").Get<string[]>() ?? [SiloRoles.Coordinator, SiloRoles.Trainer, SiloRoles.Device];

    /// <summary>The data folder of the local storage kind: <c>SrMobile:DataFolder</c>, default .srmobile/state in the working folder.</summary>
    public static string DataFolder(IConfiguration configuration) =>
        configuration["SrMobile:DataFolder"] ?? Path.Combine(Environment.CurrentDirectory, ".srmobile", "state");

    internal static string? NonEmpty(IConfiguration configuration, string key) =>
        configuration[key] is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;
}
