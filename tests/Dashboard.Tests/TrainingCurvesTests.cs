using SrMobile.Dashboard.Charts;

namespace SrMobile.Dashboard.Tests;

public class TrainingCurvesTests
{
    [Fact]
    public void A_record_gives_the_loss_per_window_and_the_validation_psnr_where_it_was_measured()
    {
        var curves = TrainingCurves.Parse(
        [
            "iteration,epoch,elapsed_s,loss,lr,psnr_y,ssim_y,psnr_rgb,ssim_rgb",
            "10,1,0.5,0.25,0.002,,,,",
            "20,1,1.0,0.125,0.002,,,,",
            "20,1,1.2,,0.002,30.5,0.9,29.1,0.88",
            "broken line",
        ], "train.csv");
        Assert.Equal([(10L, 0.25), (20L, 0.125)], curves.Loss);
        Assert.Equal([(20L, 30.5)], curves.ValidationPsnr);
    }

    [Fact]
    public void A_record_without_its_columns_is_refused_naming_the_file_and_the_column()
    {
        var e = Assert.Throws<InvalidDataException>(() => TrainingCurves.Parse(["iteration,epoch,loss"], "blob://artifacts/x/train.csv"));
        Assert.Contains("blob://artifacts/x/train.csv", e.Message);
        Assert.Contains("psnr_y", e.Message);
    }
}
