using Grid.Tasks.Counting;
using Grid.Tasks.Geometry;

namespace Grid.Tasks.Tests;

public sealed class TaskCatalogTests
{
    [Fact]
    public void Lists_counting_and_geometry()
    {
        Assert.Equal(["counting", "geometry"], TaskCatalog.Names);
        Assert.Equal(TaskCatalog.Names, TaskCatalog.All.Select(t => t.Name));
    }

    [Fact]
    public void Gets_a_task_by_its_name()
    {
        Assert.IsType<CountingTask>(TaskCatalog.Get("counting"));
        Assert.IsType<GeometryTask>(TaskCatalog.Get("geometry"));
    }

    [Fact]
    public void Unknown_name_is_refused_with_the_value_and_the_known_names()
    {
        var error = Assert.Throws<ArgumentException>(() => TaskCatalog.Get("clevr"));
        Assert.Contains("\"clevr\"", error.Message);
        Assert.Contains("counting, geometry", error.Message);
    }
}
