using SrMobile.Hosting;

await SiloHost.Build(args).RunAsync();
