using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SrMobile.Grains;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;
using SrMobile.Silo.Training;
using SrMobile.Silo.Workers;

namespace SrMobile.Silo;

public static class SiloHostingExtensions
{
    /// <summary>
    /// The SrMobile silo from configuration: <c>SrMobile:Roles</c> (coordinator, trainer, device; default all),
    /// <c>SrMobile:DataFolder</c> (durable grain state; default .srmobile/state), localhost clustering on one machine
    /// (<c>SrMobile:SiloPort</c> 11111, <c>SrMobile:GatewayPort</c> 30000: <c>srmobile search … --cluster 127.0.0.1:30000</c>).
    /// </summary>
    public static IHostApplicationBuilder AddSrMobileSilo(this IHostApplicationBuilder builder)
    {
        var roles = builder.Configuration.GetSection("SrMobile:Roles").Get<string[]>() ?? [SiloRoles.Coordinator, SiloRoles.Trainer, SiloRoles.Device];
        var dataFolder = builder.Configuration["SrMobile:DataFolder"] ?? Path.Combine(Environment.CurrentDirectory, ".srmobile", "state");
        var siloPort = builder.Configuration.GetValue("SrMobile:SiloPort", 11111);
        var gatewayPort = builder.Configuration.GetValue("SrMobile:GatewayPort", 30000);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort);
            silo.AddSrMobileRoles(builder.Configuration, roles, dataFolder);
        });
        return builder;
    }

    /// <summary>
    /// Storage, role placement and the hosted services of the given roles, for any silo builder (tests too).
    /// <c>SrMobile:Simulate</c> = true swaps training and measuring for <see cref="SimulatedWork"/> (benchmarks of
    /// the cluster itself and cluster tests; never a real result).
    /// </summary>
    public static ISiloBuilder AddSrMobileRoles(this ISiloBuilder silo, IConfiguration configuration, IReadOnlyCollection<string> roles, string dataFolder)
    {
        silo.AddFileGrainStorage(WorkQueueGrain.StorageName, dataFolder);
        silo.AddSiloRoles(roles);
        silo.Services.Configure<WorkQueueOptions>(configuration.GetSection(WorkQueueOptions.Section));
        silo.Services.Configure<DeviceRegistryOptions>(configuration.GetSection(DeviceRegistryOptions.Section));
        var simulate = configuration.GetValue("SrMobile:Simulate", false);
        if (simulate)
            silo.Services.Configure<SimulatedWorkOptions>(configuration.GetSection(SimulatedWorkOptions.Section));
        // Simulated work has no CPU to share, and runs its loops side by side on purpose.
        if (roles.Contains(SiloRoles.Trainer) && roles.Contains(SiloRoles.Device) && !simulate)
            silo.Services.AddSingleton<MachineGate>();
        if (roles.Contains(SiloRoles.Trainer))
        {
            silo.Services.Configure<TrainerOptions>(configuration.GetSection(TrainerOptions.Section));
            if (simulate)
                silo.Services.AddSingleton<ICandidateTrainer, SimulatedWork>();
            else
                silo.Services.AddSingleton<ICandidateTrainer>(services =>
                {
                    var trainer = services.GetRequiredService<IOptions<TrainerOptions>>().Value;
                    return new CandidatePipeline(trainer.WorkFolder, trainer.Threads);
                });
            silo.Services.AddHostedService<TrainerWorker>();
        }
        if (roles.Contains(SiloRoles.Device))
        {
            silo.Services.Configure<DeviceOptions>(configuration.GetSection(DeviceOptions.Section));
            if (simulate)
                silo.Services.AddSingleton<ICandidateMeasurer, SimulatedWork>();
            else
                silo.Services.AddSingleton<ICandidateMeasurer, EngineMeasurer>();
            silo.Services.AddHostedService<DeviceWorker>();
        }
        return silo;
    }
}
