namespace Grid.Tasks.Counting;

public enum ObjectSize
{
    Small,
    Large,
}
