/**
 * The fixed list of 256 words used in Postern invite codes (see invite-code.ts).
 *
 * Exactly 256 entries, so one uniformly random byte picks one word (8 bits each;
 * three words carry 24 bits of secret). Every word is lowercase a–z, 3–8 letters,
 * and no two words share their first three letters, so any 3-letter prefix
 * identifies a word and the UI can autocomplete it. Concrete, common, easy-to-spell
 * and inoffensive words only.
 *
 * Never remove or change a word once released: a peer running an older or newer
 * version must accept every code the other side can show. (The order does not
 * matter on the wire: the words themselves, not their indexes, go into the PAKE.)
 */
export const WORDLIST: readonly string[] = Object.freeze([
  'acorn', 'album', 'amber', 'anchor', 'anvil', 'apple', 'arrow', 'aspen',
  'atlas', 'attic', 'autumn', 'bacon', 'badge', 'bamboo', 'banjo', 'basket',
  'beacon', 'bench', 'berry', 'birch', 'blanket', 'bottle', 'bread', 'brick',
  'bucket', 'cabin', 'cactus', 'camel', 'candle', 'carpet', 'castle', 'cedar',
  'cherry', 'cider', 'cliff', 'clock', 'comet', 'copper', 'coral', 'cotton',
  'crown', 'cupcake', 'daisy', 'delta', 'denim', 'desert', 'dolphin', 'domino',
  'dragon', 'drum', 'duck', 'dune', 'eagle', 'earth', 'echo', 'elbow',
  'ember', 'engine', 'escape', 'evening', 'falcon', 'feather', 'fiddle', 'field',
  'finch', 'flag', 'flint', 'forest', 'fossil', 'frame', 'fruit', 'gadget',
  'galaxy', 'garden', 'gecko', 'giant', 'ginger', 'globe', 'grape', 'green',
  'guide', 'hammer', 'harbor', 'hawk', 'hazel', 'helmet', 'herb', 'hill',
  'hive', 'honey', 'hotel', 'house', 'icon', 'igloo', 'index', 'iris',
  'iron', 'island', 'ivory', 'jacket', 'jazz', 'jelly', 'jigsaw', 'juice',
  'jumbo', 'jungle', 'kayak', 'kettle', 'kitchen', 'kiwi', 'knot', 'koala',
  'ladder', 'lagoon', 'lamp', 'lantern', 'laptop', 'lava', 'leaf', 'lemon',
  'lilac', 'lion', 'lizard', 'lobster', 'lunar', 'magnet', 'mango', 'maple',
  'marble', 'meadow', 'medal', 'melon', 'metal', 'mirror', 'mitten', 'monkey',
  'motor', 'muffin', 'napkin', 'navy', 'nectar', 'needle', 'neon', 'nest',
  'nickel', 'noodle', 'north', 'oasis', 'ocean', 'olive', 'onion', 'opal',
  'orbit', 'orchid', 'otter', 'oven', 'oyster', 'paddle', 'paint', 'palace',
  'panda', 'paper', 'pasta', 'peach', 'pebble', 'pencil', 'pepper', 'piano',
  'picnic', 'pilot', 'planet', 'pocket', 'pumpkin', 'quail', 'quest', 'quiet',
  'rabbit', 'radio', 'raft', 'raven', 'recipe', 'reef', 'ribbon', 'river',
  'robin', 'rocket', 'royal', 'ruler', 'saddle', 'safari', 'sail', 'salad',
  'scarf', 'school', 'seed', 'seven', 'shadow', 'ship', 'silver', 'sketch',
  'sled', 'snow', 'sofa', 'solar', 'spoon', 'stone', 'sugar', 'swan',
  'table', 'taco', 'tango', 'teacup', 'temple', 'tennis', 'thumb', 'ticket',
  'tiger', 'toast', 'tomato', 'torch', 'tulip', 'turtle', 'umpire', 'uncle',
  'unicorn', 'urban', 'utopia', 'valley', 'vanilla', 'vase', 'velvet', 'video',
  'violet', 'volcano', 'voyage', 'wafer', 'wagon', 'walnut', 'water', 'whale',
  'wheel', 'window', 'wizard', 'wolf', 'wombat', 'wood', 'yacht', 'yard',
  'yellow', 'yoga', 'yolk', 'zebra', 'zero', 'zigzag', 'zipper', 'zoom',
]);
