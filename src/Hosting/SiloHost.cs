using SrMobile.Hosting.Web;

namespace SrMobile.Hosting;

/// <summary>The silo process of <c>srmobile-silo</c> and <c>srmobile silo</c>: every setting from configuration (arguments, <c>SrMobile__*</c> environment variables).</summary>
public static class SiloHost
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddSrMobileSilo();
        builder.AddSrMobileWeb();
        var app = builder.Build();
        app.MapSrMobileWeb();
        return app;
    }
}
