using Microsoft.Extensions.Options;
using SrMobile.Cluster;
using SrMobile.Grains.Placement;
using SrMobile.Trainer;

namespace SrMobile.Hosting;

/// <summary>The whole SrMobile silo: the cluster of <see cref="ClusterHostingExtensions"/> and the trainer role (TorchSharp).</summary>
public static class SiloHostingExtensions
{
    /// <summary>The silo from configuration (see <see cref="ClusterHostingExtensions.AddSrMobileCluster"/>), the trainer role included.</summary>
    public static IHostApplicationBuilder AddSrMobileSilo(this IHostApplicationBuilder builder) =>
        builder.AddSrMobileCluster((silo, roles) => silo.AddSrMobileTrainer(builder.Configuration, roles));

    /// <summary>Every role's services on any silo builder (tests, the CLI's embedded cluster); clustering is the caller's.</summary>
    public static ISiloBuilder AddSrMobileRoles(this ISiloBuilder silo, IConfiguration configuration, IReadOnlyCollection<string> roles, string dataFolder) =>
        silo.AddSrMobileClusterRoles(configuration, roles, dataFolder).AddSrMobileTrainer(configuration, roles);

    /// <summary>
    /// The trainer role when <paramref name="roles"/> holds it: <see cref="TrainerWorker"/> with the real pipeline, or
    /// <see cref="SimulatedTrainer"/> under <c>SrMobile:Simulate</c> (never a real result).
    /// </summary>
    private static ISiloBuilder AddSrMobileTrainer(this ISiloBuilder silo, IConfiguration configuration, IReadOnlyCollection<string> roles)
    {
        if (!roles.Contains(SiloRoles.Trainer))
            return silo;
        silo.Services.Configure<TrainerOptions>(configuration.GetSection(TrainerOptions.Section));
        if (configuration.GetValue("SrMobile:Simulate", false))
            silo.Services.AddSingleton<ICandidateTrainer, SimulatedTrainer>();
        else
            silo.Services.AddSingleton<ICandidateTrainer>(services =>
            {
                var trainer = services.GetRequiredService<IOptions<TrainerOptions>>().Value;
                return new CandidatePipeline(trainer.WorkFolder, trainer.Threads);
            });
        silo.Services.AddHostedService<TrainerWorker>();
        return silo;
    }
}
