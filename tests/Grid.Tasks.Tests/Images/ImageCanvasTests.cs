using Grid.Tasks.Images;

namespace Grid.Tasks.Tests.Images;

public sealed class ImageCanvasTests
{
    private static readonly Rgb s_white = new(255, 255, 255);
    private static readonly Rgb s_black = new(0, 0, 0);

    [Fact]
    public void A_rectangle_paints_the_pixels_whose_centres_it_covers()
    {
        var canvas = new ImageCanvas(8, 8, s_white);
        canvas.FillRectangle(2, 2, 5, 4, s_black);
        var image = canvas.ToImage();
        for (int y = 0; y < 8; y++)
        {
            for (int x = 0; x < 8; x++)
            {
                Assert.Equal(x is >= 2 and <= 4 && y is >= 2 and <= 3 ? s_black : s_white, image[x, y]);
            }
        }
    }

    [Fact]
    public void A_quarter_sector_paints_only_its_quadrant()
    {
        var canvas = new ImageCanvas(20, 20, s_white);
        canvas.FillSector(10, 10, 8, fromDegrees: 0, sweepDegrees: 90, s_black); // up and to the right
        var image = canvas.ToImage();
        Assert.Equal(s_black, image[13, 7]);
        Assert.Equal(s_white, image[6, 7]);
        Assert.Equal(s_white, image[13, 13]);
    }

    [Fact]
    public void A_reflex_sector_paints_everything_but_the_missing_quadrant()
    {
        var canvas = new ImageCanvas(20, 20, s_white);
        canvas.FillSector(10, 10, 8, fromDegrees: 90, sweepDegrees: 270, s_black);
        var image = canvas.ToImage();
        Assert.Equal(s_white, image[13, 7]);
        Assert.Equal(s_black, image[6, 7]);
        Assert.Equal(s_black, image[13, 13]);
        Assert.Equal(s_black, image[6, 13]);
    }
}
